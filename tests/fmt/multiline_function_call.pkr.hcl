locals {
a = merge(
var.a,
{
b = 1
},
)
b = templatefile("${path.root}/t.tpl", {
x = 1
yy = 2
})
}
