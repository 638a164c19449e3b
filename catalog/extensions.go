package catalog

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Extension is an installed extension.
type Extension struct {
	Name    string
	Version string
	Schema  string
	// OID is the extension's pg_extension OID (how pg_dump's archive names it).
	OID uint32
	// Requires lists the extensions this one needs (its control file's requires), by name.
	Requires []string
	// SchemaExtension names the extension the schema belongs to as a member, or "" when the
	// schema is an ordinary one (created by pg_dump).
	SchemaExtension string
}

// ExtensionConfig is an extension's configuration table or sequence. The rows of a table that
// match Condition (all rows when it is empty) are user data: pg_dump dumps them with the data, and
// a migration must copy them after CREATE EXTENSION made the table.
type ExtensionConfig struct {
	Extension string
	Schema    string
	Name      string
	Kind      string // "r" table, "S" sequence
	Condition string // e.g. "WHERE NOT standard_entry", or ""
}

// Qualified is the quoted schema.name.
func (c ExtensionConfig) Qualified() string { return pgx.Identifier{c.Schema, c.Name}.Sanitize() }

func readExtensionConfig(ctx context.Context, conn Querier, d *Database) error {
	rows, err := conn.Query(ctx, `SELECT e.extname::text, n.nspname::text, c.relname::text, c.relkind::text, coalesce(x.cond, '')
		FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
		JOIN pg_class c ON c.oid = x.cfg JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'S') ORDER BY 1, 2, 3`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c ExtensionConfig
		if err := rows.Scan(&c.Extension, &c.Schema, &c.Name, &c.Kind, &c.Condition); err != nil {
			return err
		}
		d.ExtensionConfig = append(d.ExtensionConfig, c)
	}
	return rows.Err()
}
