locals {
a = 1 # short
bbbbbbbbbb = 2 # long key
c = 3

d = 4 # new run
}
