locals {
a = 1
script = <<EOF
#!/bin/sh
echo ${var.x}
EOF
bb = 2
}
