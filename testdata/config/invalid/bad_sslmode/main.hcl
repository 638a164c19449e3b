source "onprem" {
  host    = "10.1.2.3"
  user    = "postgres"
  sslmode = "requir" # ERROR: Did you mean "require"
}

target "flex" {
  host    = "10.9.9.9"
  user    = "admin"
  sslmode = "strict" # ERROR: sslmode must be one of "disable", "allow", "prefer", "require", "verify-ca" or "verify-full"
}

# Both servers are invalid: the migration that refers to them must not add errors.
migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
