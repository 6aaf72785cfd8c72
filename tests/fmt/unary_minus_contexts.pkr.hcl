locals {
a = [-1, -2]
b = fn(-1)
c = var.x * -1
d = var.x -1
e = (-1)
}
