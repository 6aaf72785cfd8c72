locals {
a = 1+2*3
b = var.x==1?"y":"z"
c = ! var.flag
d = -1
e = 5 - -3
f = [ 1 , 2 , 3 ]
g = fn( "a" , var.b )
h = var.list[ 0 ]
i = { a=1 , b=2 }
j = [for x in [1, 2] : x]
k = var.a&&var.b||var.c
l = "${ var.x }-${var.y}"
m = length( var.list )>0
}
