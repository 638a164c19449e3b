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
  databases = [] # ERROR: databases must name at least one database
}

migration "star-and-more" {
  source    = source.onprem
  target    = target.flex
  databases = ["app", "*"] # ERROR: must be the only element
}

migration "duplicate-db" {
  source    = source.onprem
  target    = target.flex
  databases = ["app", "app"] # ERROR: "app" is listed twice
}

migration "pattern-db" {
  source    = source.onprem
  target    = target.flex
  databases = ["app*"] # ERROR: looks like a pattern
}

migration "not-a-list" {
  source    = source.onprem
  target    = target.flex
  databases = "app" # ERROR: databases must be a list of strings
}

migration "no-databases" { # ERROR: needs the argument "databases"
  source = source.onprem
  target = target.flex
}
