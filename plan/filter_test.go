package plan

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// filterSource has tables in two schemas, a foreign key from a migrated table to one left out, an
// excluded table with an index, a trigger, a serial and an identity sequence, and a partitioned
// parent with two partitions.
func filterSource() *catalog.Database {
	return &catalog.Database{
		Name:    "app",
		Objects: map[string]int{"tables": 7, "indexes": 5, "constraints": 5, "sequences": 3, "triggers": 1, "views": 1},
		Tables: []catalog.Table{
			{OID: 100, Schema: "app", Name: "customers", Kind: "r", RowEstimate: 50, SizeBytes: 8192},
			{OID: 101, Schema: "app", Name: "orders", Kind: "r", RowEstimate: 200, SizeBytes: 16384},
			{OID: 102, Schema: "logs", Name: "events", Kind: "r", RowEstimate: 1000, SizeBytes: 65536, Triggers: 1},
			{OID: 103, Schema: "logs", Name: "events_2024", Kind: "r", RowEstimate: 10, SizeBytes: 8192},
			{OID: 104, Schema: "app", Name: "hist", Kind: "p"},
			{OID: 105, Schema: "app", Name: "hist_2023", Kind: "r", IsPartition: true, Parent: "app.hist", RowEstimate: 5, SizeBytes: 8192},
			{OID: 106, Schema: "app", Name: "hist_2024", Kind: "r", IsPartition: true, Parent: "app.hist", RowEstimate: 5, SizeBytes: 8192},
		},
		Indexes: []catalog.Index{
			{OID: 200, Schema: "app", Name: "customers_pkey", Table: "customers", Method: "btree", Primary: true, Unique: true, Constraint: "p", ConstraintOID: 300},
			{OID: 201, Schema: "app", Name: "orders_pkey", Table: "orders", Method: "btree", Primary: true, Unique: true, Constraint: "p", ConstraintOID: 301},
			{OID: 202, Schema: "logs", Name: "events_pkey", Table: "events", Method: "btree", Primary: true, Unique: true, Constraint: "p", ConstraintOID: 302},
			{OID: 203, Schema: "logs", Name: "events_msg_idx", Table: "events", Method: "btree"},
			{OID: 204, Schema: "app", Name: "hist_2023_at_idx", Table: "hist_2023", Method: "btree"},
		},
		Constraints: []catalog.Constraint{
			{OID: 300, Schema: "app", Table: "customers", Name: "customers_pkey", Type: "p"},
			{OID: 301, Schema: "app", Table: "orders", Name: "orders_pkey", Type: "p"},
			{OID: 302, Schema: "logs", Table: "events", Name: "events_pkey", Type: "p"},
			{OID: 303, Schema: "app", Table: "orders", Name: "orders_customer_id_fkey", Type: "f", RefTable: "app.customers"},
			{OID: 304, Schema: "app", Table: "orders", Name: "orders_event_id_fkey", Type: "f", RefTable: "logs.events"},
		},
		Sequences: []catalog.Sequence{
			{OID: 400, Schema: "app", Name: "orders_id_seq", LastValue: 200, OwnedBy: "app.orders.id"},
			{OID: 401, Schema: "logs", Name: "events_id_seq", LastValue: 1000, OwnedBy: "logs.events.id"},
			{OID: 402, Schema: "logs", Name: "events_2024_id_seq", LastValue: 10, OwnedBy: "logs.events_2024.id", Identity: true},
		},
	}
}

func TestFilterDatabase(t *testing.T) {
	tests := []struct {
		name              string
		include, exclude  []string
		tables, excluded  string
		indexes, cons     string
		seqs              string
		objTables, objIdx int
	}{
		{
			name:    "exclude with a wildcard and a partitioned parent",
			exclude: []string{"logs.event*", "app.hist"},
			tables:  "app.customers app.orders", excluded: "app.hist app.hist_2023 app.hist_2024 logs.events logs.events_2024",
			indexes: "customers_pkey orders_pkey", cons: "customers_pkey orders_pkey orders_customer_id_fkey",
			seqs: "app.orders_id_seq logs.events_id_seq", objTables: 2, objIdx: 2,
		},
		{
			name:    "one partition left out, its parent migrated",
			exclude: []string{"app.hist_2023"},
			tables:  "app.customers app.orders logs.events logs.events_2024 app.hist app.hist_2024", excluded: "app.hist_2023",
			indexes: "customers_pkey orders_pkey events_pkey events_msg_idx", cons: "customers_pkey orders_pkey events_pkey orders_customer_id_fkey orders_event_id_fkey",
			seqs: "app.orders_id_seq logs.events_id_seq logs.events_2024_id_seq", objTables: 6, objIdx: 4,
		},
		{
			name:    "include_tables: partitions follow their parent, a pattern on a partition alone selects nothing",
			include: []string{"app.hist", "app.customers", "logs.events_2024"},
			tables:  "app.customers logs.events_2024 app.hist app.hist_2023 app.hist_2024", excluded: "app.orders logs.events",
			indexes: "customers_pkey hist_2023_at_idx", cons: "customers_pkey",
			seqs: "app.orders_id_seq logs.events_id_seq logs.events_2024_id_seq", objTables: 5, objIdx: 2,
		},
		{
			name:    "include_tables naming a partition only",
			include: []string{"app.hist_2023"},
			tables:  "", excluded: "app.customers app.hist app.hist_2023 app.hist_2024 app.orders logs.events logs.events_2024",
			indexes: "", cons: "", seqs: "app.orders_id_seq logs.events_id_seq", objTables: 0, objIdx: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := config.Options{IncludeTables: tt.include, ExcludeTables: tt.exclude}
			src := filterSource()
			f := FilterDatabase(o, src)
			var tables, indexes, cons, seqs []string
			for _, x := range f.Tables {
				tables = append(tables, x.Key())
			}
			for _, x := range f.Indexes {
				indexes = append(indexes, x.Name)
			}
			for _, x := range f.Constraints {
				cons = append(cons, x.Name)
			}
			for _, x := range f.Sequences {
				seqs = append(seqs, x.Schema+"."+x.Name)
			}
			for what, got := range map[string][2]string{
				"tables":      {strings.Join(tables, " "), tt.tables},
				"excluded":    {strings.Join(f.Excluded, " "), tt.excluded},
				"indexes":     {strings.Join(indexes, " "), tt.indexes},
				"constraints": {strings.Join(cons, " "), tt.cons},
				"sequences":   {strings.Join(seqs, " "), tt.seqs},
			} {
				if got[0] != got[1] {
					t.Errorf("%s = %q, want %q", what, got[0], got[1])
				}
			}
			if f.Objects["tables"] != tt.objTables || f.Objects["indexes"] != tt.objIdx {
				t.Errorf("objects = %v, want %d tables, %d indexes", f.Objects, tt.objTables, tt.objIdx)
			}
			// The other counts follow what is kept (the source's counts equal its lists).
			triggers := 0
			for _, x := range f.Tables {
				triggers += x.Triggers
			}
			if f.Objects["constraints"] != len(f.Constraints) || f.Objects["sequences"] != len(f.Sequences) || f.Objects["triggers"] != triggers || f.Objects["views"] != 1 {
				t.Errorf("objects = %v, want %d constraints, %d sequences, %d triggers, 1 view", f.Objects, len(f.Constraints), len(f.Sequences), triggers)
			}
			if len(src.Tables) != 7 || src.Objects["tables"] != 7 {
				t.Errorf("the source catalog was changed: %v", src.Objects)
			}
			if again := FilterDatabase(o, f); again != f {
				t.Errorf("filtering a filtered database again changed it")
			}
		})
	}
	if d := filterSource(); FilterDatabase(config.Options{}, d) != d {
		t.Errorf("without filters the database is not the one read")
	}
}

// TestBuildFiltered checks the whole plan of a migration with exclude_tables against
// testdata/filtered.golden (go test ./plan -update rewrites it): no action, detail or count
// concerns a table left out, and a target holding what was migrated has no changes.
func TestBuildFiltered(t *testing.T) {
	src, tgt := instances()
	m := migration(config.Options{})
	m.Options.ExcludeTables = []string{"logs.event*", "app.hist"}
	p, err := Build(Input{Snapshot: &snapshot.Snapshot{Migration: m, Source: src, Target: tgt, SourceDBs: map[string]*catalog.Database{"app": filterSource()}}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "%s %s  (%s) deps=%s\n", a.Kind.Symbol(), a.Address, a.Reason, strings.Join(a.DependsOn, ","))
		for _, d := range a.Details {
			fmt.Fprintf(&b, "    %s\n", d)
		}
	}
	s := p.Summary
	fmt.Fprintf(&b, "summary: tables=%d rows=%d bytes=%d indexes=%d constraints=%d add=%d\n", s.Tables, s.Rows, s.Bytes, s.Indexes, s.Constraints, s.Add)
	got := b.String()
	for _, left := range []string{"logs\"", "events", "hist"} {
		if strings.Contains(strings.ReplaceAll(got, "logs.events_id_seq", ""), left) {
			t.Errorf("the plan mentions %s, which the filters leave out", left)
		}
	}
	golden := filepath.Join("testdata", "filtered.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update)", err)
	}
	if got != string(want) {
		t.Errorf("plan differs from %s (go test ./plan -update rewrites it):\n%s", golden, got)
	}

	// The target as migrated: the filtered source's tables, indexes, constraints and sequences.
	migrated := FilterDatabase(m.Options, filterSource())
	st := doneState(p)
	p2, err := Build(Input{Snapshot: &snapshot.Snapshot{Migration: m, Source: src, Target: tgt, SourceDBs: map[string]*catalog.Database{"app": filterSource()},
		TargetDBs: map[string]*catalog.Database{"app": migrated}, State: st}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p2.Actions {
		if a.Database == "app" {
			t.Errorf("after the migration the plan still has %s", a.Address)
		}
	}
}

// doneState is the state after every action of p was applied.
func doneState(p *Plan) *state.State {
	st := state.New("m")
	for _, a := range p.Actions {
		st.Upsert(&state.Action{Address: a.Address, Database: a.Database, Status: state.ActionApplied})
	}
	return st
}
