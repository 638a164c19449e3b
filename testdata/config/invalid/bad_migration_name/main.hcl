source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "-bad" { # ERROR: Invalid migration name
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}

migration "has space" { # ERROR: Invalid migration name
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}

migration "no_underscore" { # ERROR: Invalid migration name
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}

migration "ok-name-2" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}

source "1st" { # ERROR: Invalid source name
  host = "10.1.2.3"
  user = "postgres"
}
