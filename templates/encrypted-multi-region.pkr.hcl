# Encrypted, multi-region, shared: an Amazon Linux 2023 image whose boot volume is encrypted
# with your KMS keys (one per region), copied to two more regions and shared with the accounts
# you name. Sharing an encrypted AMI needs customer-managed keys the other accounts may use.
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

variable "copy_regions" {
  type    = list(string)
  default = ["us-west-2", "eu-west-1"]
}

# One customer-managed KMS key per region (the build region's included), e.g.
# { "us-east-1" = "alias/images", "us-west-2" = "alias/images", "eu-west-1" = "alias/images" }
variable "kms_keys" {
  type = map(string)
  default = {
    "us-east-1" = "alias/images"
    "us-west-2" = "alias/images"
    "eu-west-1" = "alias/images"
  }
}

variable "share_with" {
  type    = list(string)
  default = ["111122223333"]
}

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "encrypted" {
  region             = var.region
  instance_type      = "t3.micro"
  ami_name           = "ambake-encrypted-${local.timestamp}"
  ssh_username       = "ec2-user"
  encrypt_boot       = true
  kms_key_id         = var.kms_keys[var.region]
  # Packer wants every region_kms_key_ids region in ami_regions, the build region included
  # (it is not copied to itself).
  ami_regions        = concat([var.region], var.copy_regions)
  region_kms_key_ids = var.kms_keys
  ami_users          = var.share_with
  snapshot_users     = var.share_with

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-6.1-x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  metadata_options {
    http_tokens = "required"
  }

  tags = {
    Name    = "ambake-encrypted"
    BaseAMI = "{{ .SourceAMIName }}"
  }
}

build {
  sources = ["source.amazon-ebs.encrypted"]

  provisioner "shell" {
    inline = ["sudo dnf -y update"]
  }

  post-processor "manifest" {
    output = "packer-manifest.json"
  }
}
