# Debian 12 (bookworm) starter: the official Debian image, a file and a shell provisioner.
variable "region" {
  type    = string
  default = "us-east-1"
}

source "amazon-ebs" "debian" {
  region        = var.region
  instance_type = "t3.micro"
  ami_name      = "ambake-debian-12-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  ssh_username  = "admin"

  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      virtualization-type = "hvm"
    }
    owners      = ["136693071363"]
    most_recent = true
  }

  tags = {
    Name = "ambake-debian-12"
  }
}

build {
  sources = ["source.amazon-ebs.debian"]

  provisioner "file" {
    content     = "built by ambake\n"
    destination = "/tmp/ambake-release"
  }

  provisioner "shell" {
    inline = ["sudo mv /tmp/ambake-release /etc/ambake-release"]
  }
}
