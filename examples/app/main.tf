# Application for driftd's demo. After apply the demo deletes the queue's
# file (drift: deleted outside Terraform) and bumps the release in this file
# (a pending change: code merged but not applied).
terraform {
  required_providers {
    testbed = {
      source = "driftd.test/driftd/testbed"
    }
  }
}

provider "testbed" {}

variable "db_password" {
  description = "Password of the application database."
  type        = string
  sensitive   = true
  default     = "demo-db-password-not-real"
}

resource "testbed_object" "config" {
  name    = "app-config"
  content = "release-41"
  tags = {
    app = "shop"
  }
}

resource "testbed_object" "database" {
  name   = "app-database"
  secret = var.db_password
  ports  = [5432]
  settings = {
    tier     = "db.medium"
    password = var.db_password
  }
}

resource "testbed_object" "queue" {
  name    = "app-queue"
  enabled = true
  tags = {
    app  = "shop"
    kind = "fifo"
  }
}

resource "testbed_object" "worker" {
  name    = "app-worker"
  content = "replicas=3"
  ports   = [8080, 9090]

  rule {
    port        = 8080
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
}

output "database_password" {
  value     = var.db_password
  sensitive = true
}
