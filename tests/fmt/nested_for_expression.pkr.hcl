locals {
names = [for s in var.list : upper(s) if s != ""]
m = {
for k, v in var.map :
k => v
}
nested = [
for x in var.a : [
for y in x : y
]
]
}
