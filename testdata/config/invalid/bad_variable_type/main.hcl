variable "a" {
  type = strng # ERROR: Did you mean string\?
}

variable "b" {
  type = "string" # ERROR: Remove the quotes: type = string
}

variable "c" {
  type    = number
  default = "five" # ERROR: The default of variable "c" must be a number
}

variable "d" {
  type    = list(string) # ERROR: Invalid variable type
  default = []
}

source "onprem" {
  host = var.a
  port = var.c
  user = var.b
}

target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
