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

backend "pg" { # ERROR: needs the argument "conn_str"
  schema = "1state" # ERROR: schema must be a plain identifier
  path   = ".x" # ERROR: path belongs to backend "local"
}
