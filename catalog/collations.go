package catalog

import (
	"github.com/pgferry/pgferry/internal/pgver"
)

// Collation is a user-defined collation.
type Collation struct {
	Schema   string
	Name     string
	Provider string // "c" libc, "i" ICU, "b" builtin, "d" default
	Locale   string
}

// Key is schema.name.
func (c *Collation) Key() string { return c.Schema + "." + c.Name }

func collProvider(v pgver.V) string {
	if v.AtLeast(10) {
		return "c.collprovider::text"
	}
	return "'c'::text"
}
