source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}

backend "local" {
  path = ".state"
}

backend "pg" { # ERROR: A backend was previously declared at .*main.hcl:15\.
  conn_str = "postgres://state@db/state"
}
