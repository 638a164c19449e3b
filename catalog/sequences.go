package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Sequence is one sequence and its current position.
type Sequence struct {
	OID       uint32
	Schema    string
	Name      string
	LastValue int64
	IsCalled  bool
	// OwnedBy is "schema.table.column" for sequences owned by a column (serial, identity).
	OwnedBy  string
	Identity bool
}

// Qualified is "schema"."name", quoted.
func (s *Sequence) Qualified() string { return QuoteQualified(s.Schema, s.Name) }

func readSequences(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	identity := "false"
	if v.AtLeast(10) {
		identity = "dep.deptype = 'i'"
	}
	// LastValue and IsCalled come next, from the sequences themselves.
	var err error
	d.Sequences, err = appendRows(ctx, conn, d.Sequences, pgx.RowToStructByNameLax[Sequence], fmt.Sprintf(`SELECT c.oid,
		n.nspname::text AS schema, c.relname::text AS name,
		coalesce((SELECT tn.nspname || '.' || tc.relname || '.' || a.attname FROM pg_class tc JOIN pg_namespace tn ON tn.oid = tc.relnamespace
			JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = dep.refobjsubid WHERE tc.oid = dep.refobjid), '') AS owned_by,
		coalesce(%s, false) AS identity
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
		WHERE c.relkind = 'S' AND %s AND %s
		ORDER BY 1, 2`, identity, userSchemaFilter, notExtensionMember("pg_class", "c.oid")))
	if err != nil {
		return err
	}
	if len(d.Sequences) == 0 {
		return nil
	}
	// One statement reads every sequence's position: a UNION ALL of one-row selects.
	const chunk = 500
	for start := 0; start < len(d.Sequences); start += chunk {
		end := min(start+chunk, len(d.Sequences))
		var b strings.Builder
		for k := start; k < end; k++ {
			if k > start {
				b.WriteString(" UNION ALL ")
			}
			fmt.Fprintf(&b, "SELECT %d, last_value, is_called FROM %s", k, d.Sequences[k].Qualified())
		}
		var k int
		var last int64
		var called bool
		if err := forEachRow(ctx, conn, b.String(), []any{&k, &last, &called}, func() {
			d.Sequences[k].LastValue, d.Sequences[k].IsCalled = last, called
		}); err != nil {
			return err
		}
	}
	return nil
}
