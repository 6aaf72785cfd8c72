locals {
a = "$${not_interp} %%{ not_directive }"
b = "quote \" inside ${var.x}"
}
