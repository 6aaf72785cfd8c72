source "amazon-ebs" "x" {
ami_name = "ami-{{timestamp}}"
ami_description = "from {{ .SourceAMIName }}"
tags = { Base = "{{ .SourceAMIName }}", Time = "{{isotime \"2006\"}}" }
}
