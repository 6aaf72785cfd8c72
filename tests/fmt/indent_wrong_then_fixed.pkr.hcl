        locals {
                    a = 1
    }
