package apply

import "github.com/pgferry/pgferry/catalog"

// CopyExpr is the expression a table copy reads column c by on the source (copyExpr): its name,
// or what is sent instead of the stored value (a character(n) as text, without its padding). The
// forecast's probe samples a table as apply will copy it.
func CopyExpr(c catalog.Column) string {
	e, _ := copyExpr(c)
	return e
}
