locals {
a = var.list[*].id
b = var.list.*.id
c = var.map["key"]
d = data.amazon-ami.x.id
}
