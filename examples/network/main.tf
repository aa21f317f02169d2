# Network for driftd's demo: the testbed provider stores each object as a JSON
# file under $TESTBED_ROOT. The demo edits the firewall's file after apply
# (a tag, a rule port and its secret), so driftd reports in-place drift.
terraform {
  required_providers {
    testbed = {
      source = "driftd.test/driftd/testbed"
    }
  }
}

provider "testbed" {}

variable "vpn_psk" {
  description = "Pre-shared key of the site VPN."
  type        = string
  sensitive   = true
  default     = "demo-psk-not-a-real-secret"
}

resource "testbed_object" "vpc" {
  name    = "network-vpc"
  content = "10.0.0.0/16"
  tags = {
    env   = "demo"
    owner = "platform"
  }
}

resource "testbed_object" "firewall" {
  name    = "network-firewall"
  secret  = var.vpn_psk
  ports   = [80, 443]
  enabled = true
  tags = {
    env  = "demo"
    tier = "edge"
  }

  rule {
    port        = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  rule {
    port        = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8", "192.168.0.0/16"]
  }
}

resource "testbed_object" "dns" {
  name    = "network-dns"
  content = "demo.internal"
  settings = {
    tier     = "standard"
    password = var.vpn_psk
  }
}

output "vpc_id" {
  value = testbed_object.vpc.id
}

output "vpn_psk" {
  value     = var.vpn_psk
  sensitive = true
}
