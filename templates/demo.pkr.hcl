# The local demo: a whole amazon-ebs build against the moto emulator (scripts/demo runs it).
# Nothing here reaches AWS: scripts/demo points AWS_ENDPOINT_URL at moto on 127.0.0.1, and the
# "instance" the ssh source logs in to is an OpenSSH sshd on 127.0.0.1 (ssh_host).
variable "ssh_port" {
  type    = number
  default = 22
}

variable "copy_regions" {
  type    = list(string)
  default = ["us-west-2"]
}

locals {
  common_tags = {
    Name    = "ambake-demo"
    BaseAMI = "{{ .SourceAMIName }}"
  }
}

# Logs in with a temporary key pair made by CreateKeyPair, as on EC2 (needs root for sshd).
source "amazon-ebs" "ssh" {
  region          = "us-east-1"
  instance_type   = "t2.micro"
  source_ami      = "ami-760aaa0f" # moto's seeded Amazon Linux image
  ssh_username    = "ec2-user"
  ssh_host        = "127.0.0.1"
  ssh_port        = var.ssh_port
  ami_name        = "ambake-demo-ssh-{{timestamp}}"
  ami_description = "ambake demo built from {{ .SourceAMIName }}"
  ami_regions     = var.copy_regions
  ami_users       = ["111122223333"]
  tags            = local.common_tags
  snapshot_tags   = { Snapshot = "ambake-demo" }
  run_tags        = { Purpose = "ambake-demo" }
}

# No communicator: runs anywhere, provisions with shell-local only.
source "amazon-ebs" "local" {
  region          = "us-east-1"
  instance_type   = "t2.micro"
  source_ami      = "ami-760aaa0f"
  communicator    = "none"
  ami_name        = "ambake-demo-local-{{timestamp}}"
  ami_description = "ambake demo built from {{ .SourceAMIName }}"
  ami_regions     = var.copy_regions
  tags            = local.common_tags
}

build {
  sources = ["source.amazon-ebs.ssh", "source.amazon-ebs.local"]

  provisioner "shell" {
    only   = ["amazon-ebs.ssh"]
    inline = ["echo \"hello from $(whoami) on the instance, build $PACKER_BUILD_NAME\" | tee /tmp/ambake-demo-proof"]
  }

  provisioner "file" {
    only        = ["amazon-ebs.ssh"]
    content     = "baked by ambake\n"
    destination = "/tmp/ambake-demo-release"
  }

  provisioner "shell-local" {
    inline = ["echo \"provisioning $PACKER_BUILD_NAME (build $AMBAKE_BUILD_ID) in $AMBAKE_BUILD_REGION\""]
  }

  post-processor "manifest" {
    output = "packer-manifest.json"
  }
}
