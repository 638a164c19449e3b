package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/internal/pgver"
)

// Index is one index.
type Index struct {
	OID        uint32
	Schema     string
	Name       string
	Table      string // table name, same schema
	Method     string
	Def        string // pg_get_indexdef
	Primary    bool
	Unique     bool
	Constraint string // 'p', 'u', 'x' when the index backs a constraint of that type, else ""
	// ConstraintOID is the OID of that constraint, 0 otherwise.
	ConstraintOID uint32
	Valid         bool
	SizeBytes     int64
	// Partitioned is true for an index on a partitioned parent.
	Partitioned bool
}

func readIndexes(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	partitioned := "false"
	if v.AtLeast(11) {
		partitioned = "ic.relkind = 'I'"
	}
	q := fmt.Sprintf(`SELECT i.indexrelid, n.nspname::text, ic.relname::text, tc.relname::text, am.amname::text, pg_get_indexdef(i.indexrelid),
		i.indisprimary, i.indisunique, coalesce(k.contype::text, ''), coalesce(k.oid, 0),
		i.indisvalid, ic.relpages::bigint * current_setting('block_size')::bigint, %s
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = ic.relnamespace JOIN pg_am am ON am.oid = ic.relam
		LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p','u','x')
		WHERE tc.relkind IN ('r', 'p', 'm') AND %s AND %s
		ORDER BY 2, 3`, partitioned, userSchemaFilter, notExtensionMember("pg_class", "tc.oid"))
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ix Index
		if err := rows.Scan(&ix.OID, &ix.Schema, &ix.Name, &ix.Table, &ix.Method, &ix.Def, &ix.Primary, &ix.Unique,
			&ix.Constraint, &ix.ConstraintOID, &ix.Valid, &ix.SizeBytes, &ix.Partitioned); err != nil {
			return err
		}
		d.Indexes = append(d.Indexes, ix)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Collations used by index columns.
	rows, err = conn.Query(ctx, `SELECT DISTINCT cn.nspname || '.' || co.collname, `+strings.Replace(collProvider(v), "c.", "co.", 1)+`
		FROM pg_index i, unnest(i.indcollation::oid[]) AS ic(coll)
		JOIN pg_collation co ON co.oid = ic.coll JOIN pg_namespace cn ON cn.oid = co.collnamespace
		WHERE ic.coll <> 0 AND co.collname <> 'default' AND i.indexrelid >= 16384`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n, p string
		if err := rows.Scan(&n, &p); err != nil {
			return err
		}
		d.UsedCollations[n] = p
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range d.Tables {
		for _, c := range t.Columns {
			if c.Collation != "" {
				d.UsedCollations[c.Collation] = ""
			}
		}
	}
	return nil
}
