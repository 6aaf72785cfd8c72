source "amazon-ebs" "x" {
aws_polling {
delay_seconds = 5
max_attempts = 10
}
ami_name = "x"
ssh_username = "u"
}
