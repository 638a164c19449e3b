variable "host" {
  type = number
  default = "not-a-number" # ERROR: Invalid default value
}

source "onprem" {
  host = var.host
  user = "postgres"
  sslmode = "bogus" # ERROR: Invalid sslmode
}

target "flex" {
  host = upper(var.host)
  user = "admin"
}

# Neither the invalid variable nor the invalid source cause more errors here.
migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = [lower(var.host)]
}
