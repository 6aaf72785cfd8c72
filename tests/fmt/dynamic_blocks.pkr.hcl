source "amazon-ebs" "x" {
dynamic "launch_block_device_mappings" {
for_each = var.disks
content {
device_name = launch_block_device_mappings.value.name
volume_size = launch_block_device_mappings.value.size
}
}
}
