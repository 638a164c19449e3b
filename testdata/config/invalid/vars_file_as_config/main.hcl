variable "target_password" {
  type      = string
  sensitive = true
}

source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}

target "flex" {
  host     = "flex.example.com"
  user     = "admin"
  password = var.target_password
}

migration "m" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
