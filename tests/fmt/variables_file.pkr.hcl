region = "us-east-1"
instance_type = "t3.micro"
ami_regions = ["eu-west-1", "us-west-2"]
tags = {
Owner = "team"
}
