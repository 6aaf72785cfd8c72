source   "amazon-ebs"   "x"   {
ami_name="x"
}
build{
sources=["source.amazon-ebs.x"]
}
