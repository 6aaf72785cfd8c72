source "amazon-ebs" "x" {
ami_name = "x"
  # trailing comment in block
}
# end of file comment
