source "amazon-ebs" "x" { ami_name = "x" }
locals { a = 1 }
