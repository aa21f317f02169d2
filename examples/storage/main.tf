# Storage for driftd's demo. Nothing touches it after apply: it stays clean.
terraform {
  required_providers {
    testbed = {
      source = "driftd.test/driftd/testbed"
    }
  }
}

provider "testbed" {}

variable "encryption_key" {
  description = "Key encrypting the buckets."
  type        = string
  sensitive   = true
  default     = "demo-key-not-a-real-secret"
}

resource "testbed_object" "bucket" {
  name    = "storage-bucket"
  enabled = true
  tags = {
    env       = "demo"
    retention = "30d"
  }

  rule {
    protocol    = "https"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "testbed_object" "backup" {
  name    = "storage-backup"
  content = "daily 02:00"
  ports   = [873]
  settings = {
    tier     = "cold"
    password = var.encryption_key
  }
}

resource "testbed_object" "key" {
  name   = "storage-key"
  secret = var.encryption_key
}

output "bucket_id" {
  value = testbed_object.bucket.id
}

output "encryption_key" {
  value     = var.encryption_key
  sensitive = true
}
