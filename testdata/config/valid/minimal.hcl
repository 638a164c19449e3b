# The least a configuration needs: every default applies.
source "onprem" {
  host = "db1.internal"
  user = "postgres"
}

target "flex" {
  host = "db2.internal"
  user = "admin"
}

migration "move" {
  source    = source.onprem
  target    = target.flex
  databases = ["*"]
}
