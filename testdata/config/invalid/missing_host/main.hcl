source "onprem" { # ERROR: needs the argument "host"
  user = "postgres"
}

target "flex" { # ERROR: needs the argument "user"
  host = "10.9.9.9"
}

target "empty" {
  host = "" # ERROR: host must not be empty
  user = "admin"
}

migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
