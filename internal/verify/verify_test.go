package verify

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
)

func TestChecksumSQL(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		extended bool
		want     []string // substrings
		not      []string
	}{
		{name: "count", mode: "count", extended: true, want: []string{"SELECT count(*), '' FROM ONLY public.t"}, not: []string{"md5", "hashtextextended"}},
		{name: "checksum on 11+", mode: "checksum", extended: true, want: []string{"hashtextextended(t::text, 0)", "FROM ONLY public.t AS t"}, not: []string{"md5"}},
		{name: "checksum before 11", mode: "checksum", want: []string{"md5(t::text)", "::bit(64)::bigint", "FROM ONLY public.t AS t"}, not: []string{"hashtextextended"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checksumSQL("public.t", tt.mode, tt.extended)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s: %q lacks %q", tt.name, got, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("%s: %q has %q", tt.name, got, n)
				}
			}
		})
	}
}

func TestDifferenceString(t *testing.T) {
	tests := []struct {
		d    Difference
		want string
	}{
		{Difference{Database: "app", Object: "table public.t", Kind: "missing"}, "app: table public.t is missing on the target"},
		{Difference{Database: "app", Object: "index public.i", Kind: "extra"}, "app: index public.i exists only on the target"},
		{Difference{Database: "app", Object: "table public.t", Kind: "row count", Source: "10", Target: "9"}, "app: table public.t row count differs: source 10, target 9"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestInventory(t *testing.T) {
	table := func(name string, cols ...string) catalog.Table {
		t := catalog.Table{Schema: "public", Name: name, Kind: "r"}
		for _, c := range cols {
			n, typ, _ := strings.Cut(c, " ")
			t.Columns = append(t.Columns, catalog.Column{Name: n, Type: typ})
		}
		return t
	}
	base := func() *catalog.Database {
		return &catalog.Database{
			Tables:      []catalog.Table{table("a", "id integer"), table("b", "id bigint")},
			Indexes:     []catalog.Index{{Schema: "public", Name: "a_pkey", Def: "CREATE UNIQUE INDEX a_pkey ON public.a (id)"}},
			Constraints: []catalog.Constraint{{Schema: "public", Table: "a", Name: "a_pkey", Def: "PRIMARY KEY (id)"}},
			Sequences:   []catalog.Sequence{{Schema: "public", Name: "s", LastValue: 5, IsCalled: true}},
			Extensions:  []catalog.Extension{{Name: "hstore", Schema: "public"}},
			Objects:     map[string]int{"functions": 2},
		}
	}
	tests := []struct {
		name   string
		change func(tgt *catalog.Database)
		want   []string
	}{
		{name: "equal", change: func(*catalog.Database) {}},
		{name: "missing and extra tables", change: func(d *catalog.Database) {
			d.Tables = []catalog.Table{table("a", "id integer"), table("c", "x text")}
		}, want: []string{"app: table public.b is missing on the target", "app: table public.c exists only on the target"}},
		{name: "column type", change: func(d *catalog.Database) { d.Tables[1] = table("b", "id integer") },
			want: []string{"app: table public.b definition differs: source id bigint, target id integer"}},
		{name: "sequence position", change: func(d *catalog.Database) { d.Sequences[0].LastValue = 1 },
			want: []string{"app: sequence public.s definition differs: source last_value=5 is_called=true, target last_value=1 is_called=true"}},
		{name: "an inherited constraint is not compared", change: func(d *catalog.Database) {
			d.Constraints = append(d.Constraints, catalog.Constraint{Schema: "public", Table: "p1", Name: "fk_1", Inherited: true})
		}},
		{name: "counts, large objects, extensions", change: func(d *catalog.Database) {
			d.Objects = map[string]int{"functions": 1, "event_triggers": 1}
			d.LargeObjects = 3
			d.Extensions = nil
		}, want: []string{
			"app: large objects count differs: source 0, target 3",
			"app: event triggers count differs: source 0, target 1",
			"app: functions count differs: source 2, target 1",
			"app: extension hstore is missing on the target",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgt := base()
			tt.change(tgt)
			var got []string
			for _, d := range Inventory("app", base(), tgt) {
				got = append(got, d.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestComparedTables(t *testing.T) {
	src := &catalog.Database{Tables: []catalog.Table{
		{Schema: "public", Name: "a", Kind: "r"},
		{Schema: "public", Name: "p", Kind: "p"},
		{Schema: "public", Name: "gone", Kind: "r"},
		{Schema: "s", Name: "a", Kind: "r"},
	}}
	tgt := &catalog.Database{Tables: []catalog.Table{
		{Schema: "public", Name: "a", Kind: "r"},
		{Schema: "public", Name: "p", Kind: "p"},
		{Schema: "s", Name: "a", Kind: "r"},
		{Schema: "public", Name: "extra", Kind: "r"},
	}}
	var got []string
	for _, tb := range comparedTables(src, tgt) {
		got = append(got, tb.Key())
	}
	if want := []string{"public.a", "s.a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
