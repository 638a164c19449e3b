package apply

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/pgferry/pgferry/catalog"
)

// TestCompactCatalog: the catalog holds the same values after, each repeated string once and
// each list at its length.
func TestCompactCatalog(t *testing.T) {
	// Strings made one by one, as a catalog read makes them.
	s := func(v string) string { return strings.Clone(v) }
	d := &catalog.Database{Name: "shop"}
	d.Tables = make([]catalog.Table, 0, 8)
	d.Indexes = make([]catalog.Index, 0, 8)
	for _, n := range []string{"a", "b"} {
		d.Tables = append(d.Tables, catalog.Table{OID: 1, Schema: s("public"), Name: s(n), Owner: s("app"), Kind: s("r"),
			Columns: append(make([]catalog.Column, 0, 4), catalog.Column{Name: s("id"), Type: s("integer")})})
		d.Indexes = append(d.Indexes, catalog.Index{Schema: s("public"), Name: s(n + "_pkey"), Table: s(n), Method: s("btree"), Constraint: s("p")})
		d.Constraints = append(d.Constraints, catalog.Constraint{Schema: s("public"), Table: s(n), Name: s(n + "_fk"), Type: s("f"), RefTable: s("public.a")})
	}
	want := &catalog.Database{Name: "shop", Tables: append([]catalog.Table(nil), d.Tables...),
		Indexes: append([]catalog.Index(nil), d.Indexes...), Constraints: append([]catalog.Constraint(nil), d.Constraints...)}
	compactCatalog(d)
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("compacted catalog differs:\n%+v\nwant\n%+v", d, want)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	if !same(d.Tables[0].Schema, d.Tables[1].Schema) || !same(d.Indexes[1].Schema, d.Tables[0].Schema) ||
		!same(d.Tables[0].Columns[0].Type, d.Tables[1].Columns[0].Type) || !same(d.Constraints[1].Type, d.Constraints[0].Type) {
		t.Error("a repeated string is still held twice")
	}
	if !same(d.Indexes[1].Table, d.Tables[1].Name) || !same(d.Constraints[0].Table, d.Tables[0].Name) {
		t.Error("an index or constraint does not share its table's name")
	}
	if cap(d.Tables) != len(d.Tables) || cap(d.Indexes) != len(d.Indexes) || cap(d.Tables[0].Columns) != 1 {
		t.Errorf("lists not at their length: tables %d/%d, indexes %d/%d", len(d.Tables), cap(d.Tables), len(d.Indexes), cap(d.Indexes))
	}
}
