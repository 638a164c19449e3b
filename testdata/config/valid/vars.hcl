# Variables of every type, a sensitive one, and env().
variable "source_host" {
  type        = string
  description = "Where the source server is."
}

variable "port" {
  type    = number
  default = 5432
}

variable "source_password" {
  type      = string
  sensitive = true
}

variable "untyped" {
  default = "x"
}

source "onprem" {
  host     = var.source_host
  port     = var.port
  user     = coalesce(env("PGFERRY_TEST_USER"), "postgres")
  password = var.source_password
}

target "flex" {
  host     = "flex.example.com"
  user     = "admin"
  password = env("PGFERRY_TARGET_PASSWORD")
}

migration "m1" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
