source "onprem" {
  host = "10.1.2.3"
  port = 70000 # ERROR: port must be a whole number from 1 to 65535; got 70000
  user = "postgres"
}

target "flex" {
  host = "10.9.9.9"
  port = "fifty" # ERROR: port must be a whole number
  user = "admin"
}

target "frac" {
  host = "10.9.9.8"
  port = 5432.5 # ERROR: got 5432.5
  user = "admin"
}

target "hostport" {
  host = "db.example.com:5432" # ERROR: host must not include a port
  user = "admin"
}

migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
