package catalog

import (
	"context"
	"fmt"

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

// readCollations reads the collations of the database: the providers and recorded versions of
// the used ones (d.UsedCollations, which readTables and readIndexes filled), and the
// user-defined ones.
func readCollations(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	d.CollationVersions = map[string]string{}
	prov, version, locale := "'c'", "''", "coalesce(c.collcollate::text, '')"
	if v.AtLeast(10) {
		prov, version = "c.collprovider::text", "coalesce(c.collversion, '')"
	}
	switch {
	case v.AtLeast(17):
		locale = "coalesce(c.colllocale, c.collcollate, '')"
	case v.AtLeast(15):
		locale = "coalesce(c.colliculocale, c.collcollate, '')"
	}
	var c Collation
	var ver string
	var user bool
	return forEachRow(ctx, conn, fmt.Sprintf(`SELECT n.nspname::text, c.collname::text, %s, %s, %s,
		`+userSchemaFilter+` AND `+notExtensionMember("pg_collation", "c.oid")+`
		FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
		WHERE c.collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))
		ORDER BY 1, 2`, prov, version, locale), []any{&c.Schema, &c.Name, &c.Provider, &ver, &c.Locale, &user}, func() {
		p, used := d.UsedCollations[c.Key()]
		if used && p == "" {
			d.UsedCollations[c.Key()] = c.Provider
		}
		if user {
			d.UserCollations = append(d.UserCollations, c)
		}
		if ver != "" && (used || user) {
			d.CollationVersions[c.Key()] = ver
		}
	})
}
