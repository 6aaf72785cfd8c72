locals {
a = 1
bbbbbb = 2

cc = 3
ddddddddd = 4
}
