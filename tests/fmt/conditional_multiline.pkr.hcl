locals {
a = var.x != "" ? var.x : (
var.y
)
}
