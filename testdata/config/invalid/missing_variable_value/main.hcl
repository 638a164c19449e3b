variable "target_password" { # ERROR: Set it with --var target_password=\.\.\., .* PGFERRY_VAR_target_password
  type      = string
  sensitive = true
}

variable "port" { # ERROR: No value for required variable
  type = number
}

source "onprem" {
  host = "10.1.2.3"
  port = var.port
  user = "postgres"
}

target "flex" {
  host     = "10.9.9.9"
  user     = "admin"
  password = var.target_password
}

migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
