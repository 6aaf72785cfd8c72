locals {
a = 1 # one
bbbb = 2 # two
ccccccc = "three" // three
d = [ # open
1, # item
] # close
}
