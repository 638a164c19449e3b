source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "prod-to-flex" {
  source    = source.onprme # ERROR: Did you mean source.onprem
  target    = target.azure # ERROR: No target block named "azure" is declared
  databases = ["app"]
}

migration "uses-var" {
  source    = source.onprem
  target    = target.flex
  databases = [var.db] # ERROR: Reference to undeclared variable
}

migration "uses-attr" {
  source    = source.onprem
  target    = target.flex
  databases = [source.nope.dbname] # ERROR: Reference to undeclared source
}

target "via" {
  host = source.onprem.host # ERROR: can only be referred to inside a migration block
  user = "admin"
}
