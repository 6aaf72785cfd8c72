source "amazon-ebs" "x" {
ami_name = "x"
tags = {
Name = "x"
LongerKey = "y"
}
region = "us-east-1"
}
