# The local demo: a whole amazon-ebs build against the moto emulator (scripts/demo runs it).
# Nothing here reaches AWS: scripts/demo points AWS_ENDPOINT_URL at moto on 127.0.0.1.
variable "copy_regions" {
  type    = list(string)
  default = ["us-west-2"]
}

source "amazon-ebs" "demo" {
  region          = "us-east-1"
  instance_type   = "t2.micro"
  source_ami      = "ami-760aaa0f" # moto's seeded Amazon Linux image
  communicator    = "none"
  ami_name        = "ambake-demo-{{timestamp}}"
  ami_description = "ambake demo built from {{ .SourceAMIName }}"
  ami_regions     = var.copy_regions
  ami_users       = ["111122223333"]
  tags = {
    Name    = "ambake-demo"
    BaseAMI = "{{ .SourceAMIName }}"
  }
  snapshot_tags = { Snapshot = "ambake-demo" }
  run_tags      = { Purpose = "ambake-demo" }
}

build {
  sources = ["source.amazon-ebs.demo"]

  provisioner "shell-local" {
    inline = ["echo \"provisioning $PACKER_BUILD_NAME (build $AMBAKE_BUILD_ID) in $AMBAKE_BUILD_REGION\""]
  }

  post-processor "manifest" {
    output = "packer-manifest.json"
  }
}
