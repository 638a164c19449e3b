package apply

import (
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
)

// CopyExpr is the expression a table copy reads column c by on the source (copyExpr): its name,
// or what is sent instead of the stored value (a character(n) without its padding, as its bytes in binary on a source of 14 or later, as text otherwise). The
// forecast's probe samples a table as apply will copy it.
func CopyExpr(c catalog.Column, format string, v pgver.V) string {
	e, _ := copyExpr(c, format, v)
	return e
}
