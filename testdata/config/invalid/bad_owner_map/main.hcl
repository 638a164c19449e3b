source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "not-a-map" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    owner_map = ["postgres"] # ERROR: owner_map must be a map of strings
  }
}

migration "number-value" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    owner_map = { postgres = ["a"] } # ERROR: the value of "postgres" is
  }
}

migration "empty-target" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    owner_map = { postgres = "" } # ERROR: maps "postgres" to an empty name
  }
}

migration "reserved-target" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    owner_map = { postgres = "pg_monitor" } # ERROR: roles named pg_\* are reserved
  }
}

migration "without-roles" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    roles     = false
    owner_map = { postgres = "app_admin" } # ERROR: owner_map needs roles
  }
}
