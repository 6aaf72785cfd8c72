variable "region" {
type = string
default = "us-east-1"
description = "The region"
validation {
condition = length(var.region) > 0
error_message = "Must be set."
}
}
