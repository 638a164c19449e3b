package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Index is one index.
//
// Its fields are ordered so that it holds no padding (a catalog holds one per index: 40,000 at
// 20,000 tables): the OIDs together, the flags together.
type Index struct {
	OID uint32
	// ConstraintOID is the OID of the constraint the index backs, 0 otherwise.
	ConstraintOID uint32
	Schema        string
	Name          string
	Table         string // table name, same schema
	Method        string
	Def           string // pg_get_indexdef
	Constraint    string // 'p', 'u', 'x' when the index backs a constraint of that type, else ""
	SizeBytes     int64
	Primary       bool
	Unique        bool
	Valid         bool
	// Partitioned is true for an index on a partitioned parent.
	Partitioned bool
}

func readIndexes(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	if err := readIndexRows(ctx, conn, d, v, "pg_get_indexdef(i.indexrelid)"); err != nil {
		return err
	}
	if err := readIndexCollations(ctx, conn, d, v); err != nil {
		return err
	}
	usedColumnCollations(d)
	return nil
}

// indexesFrom is the FROM and WHERE of the user indexes' query: indexes of tables and
// materialized views (i, ic the index's pg_class row, tc the table's) of user schemas (n).
func indexesFrom() string {
	return `FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = ic.relnamespace JOIN pg_am am ON am.oid = ic.relam
		LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p','u','x')
		WHERE tc.relkind IN ('r', 'p', 'm') AND ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_class", "tc.oid")
}

// readIndexRows reads the user indexes, def the expression of their definitions.
func readIndexRows(ctx context.Context, conn Querier, d *Database, v pgver.V, def string) error {
	partitioned := "false"
	if v.AtLeast(11) {
		partitioned = "ic.relkind = 'I'"
	}
	var err error
	d.Indexes, err = appendRows(ctx, conn, d.Indexes, pgx.RowToStructByName[Index], fmt.Sprintf(`SELECT i.indexrelid AS oid,
		n.nspname::text AS schema, ic.relname::text AS name, tc.relname::text AS "table", am.amname::text AS method,
		%s AS def, i.indisprimary AS "primary", i.indisunique AS "unique",
		coalesce(k.contype::text, '') AS "constraint", coalesce(k.oid, 0) AS constraint_oid, i.indisvalid AS valid,
		ic.relpages::bigint * current_setting('block_size')::bigint AS size_bytes, %s AS partitioned
		%s
		ORDER BY 2, 3`, def, partitioned, indexesFrom()))
	return err
}

// readIndexCollations adds the collations used by index columns to d.UsedCollations.
func readIndexCollations(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	var name, provider string
	return forEachRow(ctx, conn, `SELECT DISTINCT cn.nspname || '.' || co.collname, `+strings.Replace(collProvider(v), "c.", "co.", 1)+`
		FROM pg_index i, unnest(i.indcollation::oid[]) AS ic(coll)
		JOIN pg_collation co ON co.oid = ic.coll JOIN pg_namespace cn ON cn.oid = co.collnamespace
		WHERE ic.coll <> 0 AND co.collname <> 'default' AND i.indexrelid >= 16384`, []any{&name, &provider}, func() {
		d.UsedCollations[name] = provider
	})
}

// usedColumnCollations adds the collations of d's table columns to d.UsedCollations.
func usedColumnCollations(d *Database) {
	for _, t := range d.Tables {
		for _, c := range t.Columns {
			if c.Collation != "" {
				d.UsedCollations[c.Collation] = ""
			}
		}
	}
}

// readIndexDefs reads the definitions (pg_get_indexdef) of ixs.
func readIndexDefs(ctx context.Context, conn Querier, ixs []Index) error {
	oids := make([]uint32, len(ixs))
	for k := range ixs {
		oids[k] = ixs[k].OID
	}
	rows, err := conn.Query(ctx, `SELECT pg_catalog.pg_get_indexdef(u.o) FROM unnest($1::oid[]) WITH ORDINALITY AS u(o, n) ORDER BY u.n`, oids)
	if err != nil {
		return err
	}
	k := 0
	var def string
	_, err = pgx.ForEachRow(rows, []any{&def}, func() error {
		if k == len(ixs) {
			return fmt.Errorf("more index definitions than indexes (%d)", len(ixs))
		}
		ixs[k].Def = def
		k++
		return nil
	})
	return err
}
