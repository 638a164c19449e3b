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

  options {
    include_tables = ["public.orders", "orders"] # ERROR: "orders" has no dot between the schema and the table
    exclude_tables = [
      "public.*",
      "a.b.c", # ERROR: has more than one dot
    ]
  }
}

migration "empty-part" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    exclude_tables = [".x"] # ERROR: has an empty schema part
  }
}
