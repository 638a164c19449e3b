package plan_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/plan"
)

// benchInput is a migration of one database with n tables to an empty
// target: every table has a primary key and one more index, and every tenth
// table a foreign key to the table before it — the shape `pgferry plan` sees
// over a source with 10,000 tables (docs/benchmarks.md).
func benchInput(n int) plan.Input {
	db := &catalog.Database{Name: "app", Objects: map[string]int{"tables": n, "indexes": 2 * n}}
	var oid uint32 = 16384
	next := func() uint32 { oid++; return oid }
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("t%05d", i)
		db.Tables = append(db.Tables, catalog.Table{
			OID: next(), Schema: "public", Name: name, Owner: "app", Kind: "r",
			RowEstimate: int64(1000 + i%5000), Pages: int64(8 + i%100), SizeBytes: int64(8192 * (8 + i%100)),
			HasPrimaryKey: true,
			Columns: []catalog.Column{
				{Name: "id", Type: "integer", TypeOID: 23, Builtin: true},
				{Name: "ref", Type: "integer", TypeOID: 23, Builtin: true},
				{Name: "v", Type: "text", TypeOID: 25, Builtin: true},
			},
		})
		pk := next()
		db.Indexes = append(db.Indexes,
			catalog.Index{OID: pk, Schema: "public", Name: name + "_pkey", Table: name, Method: "btree",
				Def:     fmt.Sprintf("CREATE UNIQUE INDEX %s_pkey ON public.%s USING btree (id)", name, name),
				Primary: true, Unique: true, Constraint: "p", ConstraintOID: next(), Valid: true, SizeBytes: 16384},
			catalog.Index{OID: next(), Schema: "public", Name: name + "_ref_idx", Table: name, Method: "btree",
				Def: fmt.Sprintf("CREATE INDEX %s_ref_idx ON public.%s USING btree (ref)", name, name), Valid: true, SizeBytes: 16384},
		)
		if i%10 == 9 {
			db.Constraints = append(db.Constraints, catalog.Constraint{OID: next(), Schema: "public", Table: name,
				Name: name + "_ref_fkey", Type: "f", RefTable: fmt.Sprintf("public.t%05d", i-1),
				Def: fmt.Sprintf("FOREIGN KEY (ref) REFERENCES public.t%05d(id)", i-1)})
		}
	}
	db.Sequences = []catalog.Sequence{{Schema: "public", Name: "s", LastValue: 1}}
	src := &catalog.Instance{VersionNum: 150000, CurrentUser: "postgres", IsSuperuser: true,
		Roles:     []catalog.Role{{Name: "postgres", Superuser: true, Login: true}, {Name: "app", Login: true}},
		Databases: []catalog.DatabaseInfo{{Name: "app", Owner: "app", AllowConn: true}, {Name: "postgres", AllowConn: true}}}
	tgt := &catalog.Instance{VersionNum: 150000, CurrentUser: "postgres", IsSuperuser: true,
		Roles: []catalog.Role{{Name: "postgres", Superuser: true, Login: true}}}
	m := &config.Migration{Name: "bench",
		Source:    &config.Server{Kind: "source", Name: "src", Host: "h1", Port: 5432},
		Target:    &config.Server{Kind: "target", Name: "tgt", Host: "h2", Port: 5432},
		Databases: []string{"app"},
		Options:   config.Options{Jobs: 2, Verify: "checksum", Roles: true, StripSuperuser: true}}
	return plan.Input{Snapshot: &snapshot.Snapshot{Migration: m, Source: src, Target: tgt,
		SourceDBs: map[string]*catalog.Database{"app": db}, TargetDBs: map[string]*catalog.Database{}}}
}

func BenchmarkBuild10kTables(b *testing.B) {
	in := benchInput(10000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := plan.Build(in)
		if err != nil {
			b.Fatal(err)
		}
		if p.Summary.Tables != 10000 {
			b.Fatalf("plan has %d tables, want 10000", p.Summary.Tables)
		}
	}
}

func BenchmarkRender10kTables(b *testing.B) {
	p, err := plan.Build(benchInput(10000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		views.Plan(io.Discard, p)
	}
}
