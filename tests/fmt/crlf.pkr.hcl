locals {
a = 1
bbbb = 2
# comment
c = [
"x",
]
}
