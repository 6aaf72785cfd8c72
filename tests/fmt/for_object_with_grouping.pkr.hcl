locals {
g = { for k, v in var.m : v => k... }
f = [for i, x in var.l : "${i}=${x}" if x != null]
}
