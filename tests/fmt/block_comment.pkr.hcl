/* a block
   comment */
locals {
/* inline */ a = 1
b = 2 /* after */
}
