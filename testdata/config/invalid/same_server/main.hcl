source "onprem" {
  host = "db.example.com"
  user = "postgres"
}

target "flex" {
  host = "DB.example.com"
  port = 5432
  user = "admin"
}

migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex # ERROR: Source and target are the same server
  databases = ["app"]
}
