locals {
a = 1.5
b = 1e3
c = 2.5E-2
d = [1,2.0,3e+1]
}
