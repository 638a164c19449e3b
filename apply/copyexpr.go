package apply

import (
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
)

// CopyExprs is what a table copy reads of each column of t that it moves, on a source of version
// v, in format (copyExprs): its name, or what is sent instead of the stored value (a character(n)
// without its padding). The forecast's probe samples a table as apply will copy it.
func CopyExprs(t *catalog.Table, format string, v pgver.V) []string {
	exprs, _ := copyExprs(t, format, v)
	return exprs
}
