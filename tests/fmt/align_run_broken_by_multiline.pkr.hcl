source "amazon-ebs" "x" {
region = "us-east-1"
instance_type = "t3.micro"
inline_like = [
"a",
"b",
]
ami_name = "x"
ssh_username = "ec2-user"
}
