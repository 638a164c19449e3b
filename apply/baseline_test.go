package apply

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// TestRunBaselineReady: a database's early part starts once every action of the run in it but
// ANALYZE and verification succeeded, once, whatever the order; not for a failure, an action of
// an earlier run, or an instance-level action.
func TestRunBaselineReady(t *testing.T) {
	act := func(db, typ, addr string) *plan.Action { return &plan.Action{Database: db, Type: typ, Address: addr} }
	actions := []*plan.Action{
		act("", plan.TypeRole, "role.r"),
		act("a", plan.TypeDatabase, "database.a"),
		act("a", plan.TypeTable, "database.a.table.t"),
		act("a", plan.TypePostData, "database.a.post_data"),
		act("a", plan.TypeAnalyze, "database.a.analyze"),
		act("a", plan.TypeVerify, "database.a.verify"),
		act("b", plan.TypeTable, "database.b.table.done"), // applied by an earlier run
		act("b", plan.TypeSequences, "database.b.sequences"),
	}
	st := state.New("m")
	st.Upsert(&state.Action{Address: "database.b.table.done", Status: state.ActionApplied})
	b := newRunBaseline(context.Background(), nil, actions, st) // no target: start is replaced
	var started []string
	b.start = func(_ context.Context, db string) { started = append(started, db) }
	step := func(addr string, want ...string) {
		t.Helper()
		for _, a := range actions {
			if a.Address == addr {
				b.finished(a)
			}
		}
		if !slices.Equal(started, want) {
			t.Fatalf("after %s: started %q, want %q", addr, started, want)
		}
	}
	step("role.r")
	step("database.a.table.t")
	step("database.a.table.t") // done again (a database started again): still one left
	step("database.a.analyze")
	step("database.a")
	step("database.b.sequences", "b")
	step("database.a.post_data", "b", "a")
	step("database.a.verify", "b", "a")
	step("database.a.post_data", "b", "a") // once
}

// TestRunBaselineCounts: the baseline a run takes counts every row the run wrote, those written
// after the database's early part was read included, by sessions closed just before the run
// ended; its objects are those the run left, and a database of the scope that is gone is left out.
// Before PostgreSQL 15 counters reach the collector asynchronously (two readings must agree),
// from 15 they are flushed as sessions exit (one reading once they are gone).
func TestRunBaselineCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL servers")
	}
	for _, major := range []int{11, 15} {
		t.Run(fmt.Sprint(major), func(t *testing.T) {
			if !pgtest.Available(major) {
				t.Skipf("PostgreSQL %d is not installed", major)
			}
			c := pgtest.Start(t, major)
			ctx := context.Background()
			exec := func(db, sql string) {
				t.Helper()
				if err := c.Exec(ctx, db, sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			exec("postgres", "CREATE DATABASE app")
			exec("app", "CREATE TABLE t (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off)") // nothing but the test writes
			target := serverOf(c, "target", c.User, c.Password)
			st := state.New("m")
			st.Created = []state.Change{
				{Type: plan.ChangeDatabase, Name: "app", Op: plan.OpCreated},
				{Type: plan.ChangeDatabase, Name: "gone", Op: plan.OpCreated},
			}
			actions := []*plan.Action{{Database: "app", Type: plan.TypeTable, Address: "database.app.table.t"}, {Database: "app", Type: plan.TypeAnalyze, Address: "database.app.analyze"}}
			b := newRunBaseline(ctx, target, actions, st)
			defer b.close(ctx)
			// The run's session writes, and the table's action succeeds: the early part starts.
			w, err := c.Connect(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Exec(ctx, "INSERT INTO t SELECT g, g::text FROM generate_series(1, 1000) g"); err != nil {
				t.Fatal(err)
			}
			// The action's own context ends with it (its worker's); the early read runs on under the
			// run's (an apply's baseline was lost to "context canceled" when it did not).
			b.finished(actions[0])
			// The run goes on (its ANALYZE, writes of its last sessions), and ends.
			if _, err := w.Exec(ctx, "INSERT INTO t SELECT g, g::text FROM generate_series(1001, 1500) g; UPDATE t SET v = 'x' WHERE id <= 7; DELETE FROM t WHERE id = 1500; ANALYZE t"); err != nil {
				t.Fatal(err)
			}
			w.Close(ctx)
			bl, err := b.finish(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			d := bl.Databases["app"]
			if d == nil || len(bl.Databases) != 1 {
				t.Fatalf("databases: %+v", bl.Databases)
			}
			if got := d.Tables[`"public"."t"`]; got[1] != 1500 || got[2] != 7 || got[3] != 1 {
				t.Errorf("counters of t: %v, want 1500 inserted, 7 updated, 1 deleted", got)
			}
			// What the run left, as a baseline read afterwards on fresh sessions sees it.
			again, err := RecordBaseline(ctx, target, st)
			if err != nil {
				t.Fatal(err)
			}
			if a := again.Databases["app"]; a.Objects != d.Objects || a.MaxOID != d.MaxOID || a.Hash != d.Hash || a.Tables[`"public"."t"`] != d.Tables[`"public"."t"`] {
				t.Errorf("early %+v, afterwards %+v", d, a)
			}
			if again.XidNext != bl.XidNext {
				t.Errorf("next transaction ID %d, afterwards %d: nothing was written in between", bl.XidNext, again.XidNext)
			}
			st.Baseline = bl
			if got, err := CheckDrift(ctx, DriftOptions{Target: target, State: st, Plan: plan.PlanDestroy(st)}); err != nil || got != nil {
				t.Fatalf("right after the run: %q, %v", got, err)
			}
		})
	}
}
