package catalog

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
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

func readExtensions(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	// SchemaExtension comes later, from readExtensionSchemas.
	var err error
	d.Extensions, err = appendRows(ctx, conn, d.Extensions, pgx.RowToStructByNameLax[Extension],
		`SELECT e.extname::text AS name, e.extversion::text AS version, n.nspname::text AS schema, e.oid,
		ARRAY(SELECT r.extname::text FROM pg_depend dep JOIN pg_extension r ON r.oid = dep.refobjid
			WHERE dep.classid = 'pg_extension'::regclass AND dep.objid = e.oid AND dep.refclassid = 'pg_extension'::regclass ORDER BY 1) AS requires
		FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1`)
	return err
}

// readExtensionSchemas fills Extension.SchemaExtension.
func readExtensionSchemas(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	schemaExt, err := describeRows(ctx, conn, `SELECT e.extname::text, `+extensionOf("pg_namespace", "e.extnamespace")+` FROM pg_extension e`)
	if err != nil {
		return err
	}
	for k := range d.Extensions {
		if x := schemaExt[d.Extensions[k].Name]; len(x) > 0 {
			d.Extensions[k].SchemaExtension = x[0]
		}
	}
	return nil
}

func readExtensionConfig(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	var err error
	d.ExtensionConfig, err = appendRows(ctx, conn, d.ExtensionConfig, pgx.RowToStructByName[ExtensionConfig],
		`SELECT e.extname::text AS extension, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind,
		coalesce(x.cond, '') AS condition
		FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
		JOIN pg_class c ON c.oid = x.cfg JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'S') ORDER BY 1, 2, 3`)
	return err
}
