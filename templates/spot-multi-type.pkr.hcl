# A spot build that lets EC2 pick the cheapest capacity among several instance types: the
# instance runs from a launch template through an instant fleet, and costs a fraction of
# on-demand. spot_price = "auto" caps the bid at the on-demand price.
packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "spot" {
  region                   = var.region
  spot_price               = "auto"
  spot_instance_types      = ["t3.small", "t3a.small", "m6i.large", "m5.large"]
  spot_allocation_strategy = "price-capacity-optimized"
  ami_name                 = "ambake-spot-${local.timestamp}"
  ssh_username             = "ec2-user"

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-6.1-x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  spot_tags = {
    Purpose = "image build"
  }

  tags = {
    Name    = "ambake-spot"
    BaseAMI = "{{ .SourceAMIName }}"
  }
}

build {
  sources = ["source.amazon-ebs.spot"]

  provisioner "shell" {
    inline = ["echo built on a spot instance | sudo tee /etc/ambake-release"]
  }
}
