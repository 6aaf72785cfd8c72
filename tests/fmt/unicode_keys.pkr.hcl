locals {
café = "x"
b = "naïve ünïcode"
}
