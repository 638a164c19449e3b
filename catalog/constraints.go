package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Constraint is a constraint that is built after the data (foreign keys, and
// check constraints dumped separately), or any other constraint for inventory.
type Constraint struct {
	OID uint32
	// Inherited is true for constraints a partition got from its parent (not created separately).
	Inherited bool
	Schema    string
	Table     string
	Name      string
	Type      string // p u f c x t
	Def       string
	// RefTable is the referenced table (schema.name) for foreign keys.
	RefTable string
}

func readConstraints(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	inherited := "NOT k.conislocal"
	if v.AtLeast(11) {
		inherited = "(k.conparentid <> 0 OR NOT k.conislocal)"
	}
	var err error
	d.Constraints, err = appendRows(ctx, conn, d.Constraints, pgx.RowToStructByName[Constraint], fmt.Sprintf(`SELECT k.oid,
		n.nspname::text AS schema, c.relname::text AS "table", k.conname::text AS name, k.contype::text AS type,
		pg_get_constraintdef(k.oid) AS def, %s AS inherited,
		coalesce((SELECT rn.nspname || '.' || rc.relname FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = k.confrelid), '') AS ref_table
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE k.contype IN ('p','u','f','c','x','t') AND %s AND %s
		ORDER BY 1, 2, 3`, inherited, userSchemaFilter, notExtensionMember("pg_class", "c.oid")))
	return err
}
