package forecast

import (
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
)

// TestTableShape: the sample is read as apply reads the table (a character(n) without its padding,
// which the temporary table's own column type restores: its bytes cut in binary from a source of
// 14 on, cast to text otherwise), in
// the plan's format for it; a type the target may lack, or the fallback, loads as text.
func TestTableShape(t *testing.T) {
	cols := []catalog.Column{
		{Name: "aid", Type: "integer", TypeOID: 23, Builtin: true},
		{Name: "filler", Type: "character(84)", TypeOID: 1042, Builtin: true},
		{Name: "total", Type: "bigint", TypeOID: 20, Builtin: true, Generated: true},
	}
	mood := catalog.Column{Name: "mood", Type: "public.mood", TypeOID: 16385}
	for _, c := range []struct {
		name         string
		cols         []catalog.Column
		text, asText bool
		v            pgver.V
		format, out  string
		columns      string
	}{
		{name: "binary", cols: cols, format: "binary",
			out:     `SELECT "aid", "filler"::pg_catalog.text FROM ONLY "public"."accounts"`,
			columns: `"aid" integer, "filler" character(84)`},
		{name: "binary from PostgreSQL 14 on", cols: cols, v: pgver.Of(15), format: "binary",
			out:     `SELECT "aid", pg_catalog.rtrim(pg_catalog.bpcharsend("filler"), '\x20'::pg_catalog.bytea) FROM ONLY "public"."accounts"`,
			columns: `"aid" integer, "filler" character(84)`},
		{name: "the plan copies it in text", v: pgver.Of(15), cols: cols, text: true, format: "text",
			out:     `SELECT "aid", "filler"::pg_catalog.text FROM ONLY "public"."accounts"`,
			columns: `"aid" integer, "filler" character(84)`},
		{name: "a type the target may lack", cols: append(cols[:2:2], mood), format: "text",
			out:     `SELECT "aid", "filler"::pg_catalog.text, "mood" FROM ONLY "public"."accounts"`,
			columns: `"aid" integer, "filler" character(84), "mood" text`},
		{name: "as text", cols: cols, asText: true, format: "text",
			out:     `SELECT "aid", "filler"::pg_catalog.text FROM ONLY "public"."accounts"`,
			columns: `"aid" text, "filler" text`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &sampleTable{db: "shop", t: &catalog.Table{Schema: "public", Name: "accounts", Kind: "r", Columns: c.cols}, text: c.text, v: c.v}
			sh := tableShape(s, c.asText)
			if sh.format != c.format || sh.out != c.out || strings.Join(sh.columns, ", ") != c.columns {
				t.Errorf("shape: format %s, out %s, columns %s\nwant format %s, out %s, columns %s",
					sh.format, sh.out, strings.Join(sh.columns, ", "), c.format, c.out, c.columns)
			}
		})
	}
}
