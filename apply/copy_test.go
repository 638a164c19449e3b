package apply

import (
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
)

func TestCopySource(t *testing.T) {
	col := func(name, typ string, oid uint32) catalog.Column {
		return catalog.Column{Name: name, Type: typ, TypeOID: oid, Builtin: true}
	}
	plain := []catalog.Column{col("id", "integer", 23), col("v", "text", 25)}
	padded := []catalog.Column{col("id", "integer", 23), col("c", "character(84)", bpcharOID), col("b", "bpchar", bpcharOID),
		col("a", "character(3)[]", 1014), col("d", "code", 16500), {Name: "g", Type: "integer", TypeOID: 23, Generated: true}}
	for _, tc := range []struct {
		name    string
		cols    []catalog.Column
		format  string
		where   string
		version int
		want    string
	}{
		{"plain table", plain, "binary", "", 15, `COPY "s"."t" ("id", "v") TO STDOUT WITH (FORMAT binary)`},
		{"plain part", plain, "text", "ctid >= '(0,0)'::tid", 15, `COPY (SELECT "id", "v" FROM ONLY "s"."t" WHERE ctid >= '(0,0)'::tid) TO STDOUT WITH (FORMAT text)`},
		// Only character(n) is sent trimmed: a bare bpchar, an array and a domain go as they are; a
		// generated column not at all. In text it is cast to text; in binary its bytes are cut
		// (PostgreSQL 14 and later; before, the cast).
		{"character(n)", padded, "text", "", 15, `COPY (SELECT "id", "c"::pg_catalog.text, "b", "a", "d" FROM ONLY "s"."t") TO STDOUT WITH (FORMAT text)`},
		{"character(n) binary", padded, "binary", "", 14,
			`COPY (SELECT "id", pg_catalog.rtrim(pg_catalog.bpcharsend("c"), '\x20'::pg_catalog.bytea), "b", "a", "d" FROM ONLY "s"."t") TO STDOUT WITH (FORMAT binary)`},
		{"character(n) part", padded, "binary", "ctid < '(9,0)'::tid", 15,
			`COPY (SELECT "id", pg_catalog.rtrim(pg_catalog.bpcharsend("c"), '\x20'::pg_catalog.bytea), "b", "a", "d" FROM ONLY "s"."t" WHERE ctid < '(9,0)'::tid) TO STDOUT WITH (FORMAT binary)`},
		{"character(n) binary before 14", padded, "binary", "", 13,
			`COPY (SELECT "id", "c"::pg_catalog.text, "b", "a", "d" FROM ONLY "s"."t") TO STDOUT WITH (FORMAT binary)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := &catalog.Table{Schema: "s", Name: "t", Columns: tc.cols}
			if got := copySource(tbl, tc.format, tc.where, pgver.Of(tc.version)); got != tc.want {
				t.Errorf("copySource:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
