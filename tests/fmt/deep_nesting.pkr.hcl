build {
sources = ["source.amazon-ebs.x"]
provisioner "shell" {
environment_vars = [
"A=1",
"B=${var.b}",
]
inline = [
"echo ${var.a}",
]
}
post-processor "manifest" {
output = "m.json"
custom_data = {
a = "b"
}
}
}
