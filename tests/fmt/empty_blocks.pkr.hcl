build {
}
locals {}
source "null" "x" {
}
