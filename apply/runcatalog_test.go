package apply

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/plan"
)

// tinyCatalog is the source catalog of n tiny tables as bench's tinyN dataset makes them: each
// with a primary key and one more index, every tenth a foreign key to the one before, compacted
// as a run holds it.
func tinyCatalog(n int) *catalog.Database {
	d := &catalog.Database{Name: "tiny"}
	oid := uint32(16384)
	next := func() uint32 { oid++; return oid }
	for i := range n {
		name := fmt.Sprintf("t%05d", i)
		d.Tables = append(d.Tables, catalog.Table{OID: next(), Schema: "public", Name: name, Owner: "postgres", Kind: "r",
			RowEstimate: 1, Pages: 1, SizeBytes: 8192, HasPrimaryKey: true,
			Columns: []catalog.Column{{Name: "id", Type: "integer", TypeOID: 23, Builtin: true},
				{Name: "ref", Type: "integer", TypeOID: 23, Builtin: true}, {Name: "v", Type: "text", TypeOID: 25, Builtin: true}}})
		pk := next()
		d.Indexes = append(d.Indexes,
			catalog.Index{OID: pk, Schema: "public", Name: name + "_pkey", Table: name, Method: "btree", Primary: true, Unique: true,
				Def: fmt.Sprintf("CREATE UNIQUE INDEX %s_pkey ON public.%s USING btree (id)", name, name), Constraint: "p", ConstraintOID: next(), Valid: true},
			catalog.Index{OID: next(), Schema: "public", Name: name + "_ref_idx", Table: name, Method: "btree", Valid: true,
				Def: fmt.Sprintf("CREATE INDEX %s_ref_idx ON public.%s USING btree (ref)", name, name)})
		if i%10 == 9 {
			d.Constraints = append(d.Constraints, catalog.Constraint{OID: next(), Schema: "public", Table: name, Name: name + "_ref_fkey",
				Type: "f", RefTable: fmt.Sprintf("public.t%05d", i-1), Def: fmt.Sprintf("FOREIGN KEY (ref) REFERENCES public.t%05d(id)", i-1)})
		}
	}
	compactCatalog(d)
	return d
}

// liveHeap is the heap in use once everything unreachable was collected.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestRunCatalogRetains: at 20,000 tiny tables, what a run that neither verifies nor carries
// statistics keeps of the source catalog (runCatalog) is under half of it once the catalog read is
// let go of: the indexes and constraints (their definitions) are not held through the run. A run
// that verifies, or carries statistics to a PostgreSQL 18 target, keeps it whole; the read
// catalog is never changed.
func TestRunCatalogRetains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20,000-table catalog")
	}
	const n = 20000
	run := []*plan.Action{{Type: plan.TypeSchema}, {Type: plan.TypeTable}, {Type: plan.TypeIndex}, {Type: plan.TypeAnalyze}}
	pg17 := &pgdump.Tools{Release: pgver.V(170000)}

	base := liveHeap()
	src := tinyCatalog(n)
	whole := liveHeap() - base
	kept := runCatalog(src, run, pg17, pgver.V(170000))
	if len(src.Indexes) != 2*n || len(src.Constraints) != n/10 {
		t.Fatalf("runCatalog changed the catalog it was given: %d indexes, %d constraints", len(src.Indexes), len(src.Constraints))
	}
	if len(kept.Tables) != n || len(kept.Indexes) != 0 || len(kept.Constraints) != 0 {
		t.Fatalf("kept %d tables, %d indexes, %d constraints; want %d, 0, 0", len(kept.Tables), len(kept.Indexes), len(kept.Constraints), n)
	}
	src = nil
	held := liveHeap() - base
	runtime.KeepAlive(kept)
	t.Logf("%d tables: catalog %.2f MB, held by the run %.2f MB", n, float64(whole)/1e6, float64(held)/1e6)
	if held > whole/2 {
		t.Errorf("the run holds %.2f MB of the %.2f MB catalog, want at most half", float64(held)/1e6, float64(whole)/1e6)
	}

	src = tinyCatalog(10)
	for _, c := range []struct {
		name    string
		actions []*plan.Action
		tools   *pgdump.Tools
		target  pgver.V
	}{
		{"verify", append(run[:3:3], &plan.Action{Type: plan.TypeVerify}), pg17, pgver.V(170000)},
		{"statistics carried", run, &pgdump.Tools{Release: pgver.V(180000)}, pgver.V(180000)},
	} {
		if got := runCatalog(src, c.actions, c.tools, c.target); got != src {
			t.Errorf("%s: the run does not keep the whole catalog", c.name)
		}
	}
}
