source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "unit" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    split_tables_larger_than = "1 parsec" # ERROR: split_tables_larger_than has an unknown unit "parsec"
  }
}

migration "number" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    split_tables_larger_than = "-5GB" # ERROR: Write a whole number with a unit, such as "1GB"
  }
}
