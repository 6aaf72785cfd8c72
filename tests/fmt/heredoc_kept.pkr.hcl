build {
provisioner "shell" {
inline = [<<EOF
  echo   hello
    indented   ${var.x}
EOF
]
}
}
locals {
doc = <<-EOT
    keep
  this
  EOT
after = 1
}
