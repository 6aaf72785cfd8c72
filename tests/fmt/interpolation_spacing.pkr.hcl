locals {
a = "${var.a} ${ var.b } ${upper( var.c )}"
b = "%{ if var.x }yes%{ else }no%{ endif }"
c = "${ {a=1}.a }"
}
