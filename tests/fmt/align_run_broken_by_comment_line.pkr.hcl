locals {
a = 1
# a comment between
bbbbbb = 2
cc = 3
}
