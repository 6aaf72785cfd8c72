locals {
a = !var.x && !var.y
b = ! (var.x || var.y)
}
