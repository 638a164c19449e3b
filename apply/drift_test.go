package apply

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

func TestBaselineScope(t *testing.T) {
	st := &state.State{Created: []state.Change{
		{Type: plan.ChangeRole, Name: "owner", Op: plan.OpCreated},
		{Type: plan.ChangeRoleAttributes, Name: "reader", Op: plan.OpAltered},
		{Type: plan.ChangeDatabase, Name: "old", Op: plan.OpDropped},
		{Type: plan.ChangeDatabase, Name: "app", Op: plan.OpCreated},
		{Type: plan.ChangeExtension, Name: "pgcrypto", Database: "app", Op: plan.OpCreated},
		{Type: plan.ChangeMembership, Name: "owner in reader", Op: plan.OpCreated},
		{Type: plan.ChangeDatabase, Name: "app", Op: plan.OpCreated}, // a resumed run
		{Type: plan.ChangeRole, Name: "owner", Op: plan.OpCreated},
	}}
	dbs, roles := BaselineScope(st)
	if !reflect.DeepEqual(dbs, []string{"app"}) || !reflect.DeepEqual(roles, []string{"owner", "reader"}) {
		t.Fatalf("BaselineScope = %v, %v", dbs, roles)
	}
}

func TestCompareDatabaseDrift(t *testing.T) {
	base := &state.DatabaseBaseline{Objects: 10, MaxOID: 20000, Hash: 7, StatsReset: "",
		Tables: map[string][4]int64{`"public"."t"`: {16400, 1000, 0, 0}, `"public"."u"`: {16410, 5, 0, 0}}}
	same := func() DatabaseNow {
		return DatabaseNow{Objects: 10, Hash: 7, TrackCounts: true,
			Tables: map[string][4]int64{`"public"."t"`: {16400, 1000, 0, 0}, `"public"."u"`: {16410, 5, 0, 0}}}
	}
	tests := []struct {
		name string
		cur  func(*DatabaseNow)
		want []string
	}{
		{name: "nothing changed", cur: func(*DatabaseNow) {}},
		{name: "rows written", cur: func(d *DatabaseNow) { d.Tables[`"public"."t"`] = [4]int64{16400, 1001, 3, 1} },
			want: []string{`database.app.table["public"."t"]: 1 row inserted, 3 rows updated, 1 row deleted since apply finished`}},
		{name: "truncated", cur: func(d *DatabaseNow) { d.Tables[`"public"."u"`] = [4]int64{20001, 5, 0, 0} },
			want: []string{`database.app.table["public"."u"]: rewritten since apply finished (TRUNCATE, VACUUM FULL, CLUSTER, a table rewrite, or dropped and created again)`}},
		{name: "table counters reset", cur: func(d *DatabaseNow) { d.Tables[`"public"."t"`] = [4]int64{16400, 0, 0, 0} },
			want: []string{`database.app.table["public"."t"]: its statistics were reset since apply finished (pg_stat_reset_single_table_counters or a crash), so pgferry cannot tell whether rows were written to it`}},
		{name: "database statistics reset", cur: func(d *DatabaseNow) { d.StatsReset = "2026-01-01T00:00:00Z" },
			want: []string{`database.app: its statistics were reset since apply finished (pg_stat_reset or a crash, at 2026-01-01T00:00:00Z), so pgferry cannot tell whether rows were written to its tables`}},
		{name: "statistics entry made after the baseline read, before 15", cur: func(d *DatabaseNow) {
			d.StatsReset, d.Collector = "2026-01-01T00:00:00Z", true
		}},
		{name: "track_counts off", cur: func(d *DatabaseNow) { d.TrackCounts = false },
			want: []string{`database.app: track_counts is off on the target, so pgferry cannot tell whether rows were written to its tables since apply finished`}},
		{name: "table and function created", cur: func(d *DatabaseNow) {
			d.Tables[`"public"."orders"`] = [4]int64{20005, 2, 0, 0}
			d.Objects, d.Newer, d.Hash = 16, 6, 99
			d.NewObjects = []string{"function f(integer)"}
		}, want: []string{
			`database.app.table["public"."orders"]: created since apply finished, 2 rows inserted`,
			`database.app: function f(integer) created since apply finished`}},
		{name: "table dropped", cur: func(d *DatabaseNow) {
			delete(d.Tables, `"public"."u"`)
			d.Objects, d.Hash = 7, 3
		}, want: []string{
			`database.app.table["public"."u"]: dropped since apply finished`,
			`database.app: objects were altered or dropped since apply finished (tables, columns, constraints, functions, owners or privileges)`}},
		{name: "something unnamed created", cur: func(d *DatabaseNow) { d.Objects, d.Newer, d.Hash = 11, 1, 8 },
			want: []string{`database.app: objects created since apply finished (1 new catalog entry)`}},
		{name: "several unnamed created", cur: func(d *DatabaseNow) { d.Objects, d.Newer, d.Hash = 13, 3, 8 },
			want: []string{`database.app: objects created since apply finished (3 new catalog entries)`}},
		{name: "column added", cur: func(d *DatabaseNow) { d.Objects, d.Hash = 11, 8 },
			want: []string{`database.app: objects were altered or dropped since apply finished (tables, columns, constraints, functions, owners or privileges)`}},
		{name: "privileges changed", cur: func(d *DatabaseNow) { d.Hash = 8 },
			want: []string{`database.app: objects were altered or dropped since apply finished (tables, columns, constraints, functions, owners or privileges)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := same()
			tc.cur(&cur)
			if got := CompareDatabaseDrift("app", base, cur); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
	t.Run("long lists are cut", func(t *testing.T) {
		cur := same()
		for i := range 25 {
			cur.NewObjects = append(cur.NewObjects, fmt.Sprintf("view v%d", i))
		}
		cur.Objects, cur.Newer = 35, 25
		got := CompareDatabaseDrift("app", base, cur)
		if len(got) != maxListed+1 || got[maxListed] != "database.app: and 5 more objects created since apply finished" {
			t.Errorf("got %q", got)
		}
		cur.NewObjects, cur.Objects, cur.Newer = cur.NewObjects[:maxListed+1], 31, 21
		got = CompareDatabaseDrift("app", base, cur)
		if len(got) != maxListed+1 || got[maxListed] != "database.app: and 1 more object created since apply finished" {
			t.Errorf("got %q", got)
		}
	})
}

func TestCompareRoleDrift(t *testing.T) {
	was := &state.RoleBaseline{Attributes: "a", Memberships: "m", Settings: "s", Password: "p"}
	for _, tc := range []struct {
		cur  *state.RoleBaseline
		want []string
	}{
		{cur: &state.RoleBaseline{Attributes: "a", Memberships: "m", Settings: "s", Password: "p"}},
		{cur: nil, want: []string{"role.r: dropped since apply finished"}},
		{cur: &state.RoleBaseline{Attributes: "b", Memberships: "m", Settings: "s", Password: "p"}, want: []string{"role.r: attributes changed since apply finished"}},
		{cur: &state.RoleBaseline{Attributes: "a", Memberships: "n", Settings: "t", Password: "q"},
			want: []string{"role.r: memberships, settings (ALTER ROLE ... SET) and password changed since apply finished"}},
		// The password could not be read now (another login): not a change.
		{cur: &state.RoleBaseline{Attributes: "a", Memberships: "m", Settings: "s"}},
	} {
		if got := CompareRoleDrift("r", was, tc.cur); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("CompareRoleDrift(%+v) = %q, want %q", tc.cur, got, tc.want)
		}
	}
}

func TestCheckDriftWithoutBaseline(t *testing.T) {
	dp := &plan.DestroyPlan{Steps: []*plan.UndoStep{{Address: "database.app", Change: state.Change{Type: plan.ChangeDatabase, Name: "app", Op: plan.OpCreated}}}}
	ctx := context.Background()
	// No connection is made: Target is nil.
	for status, want := range map[state.Status]bool{state.StatusInProgress: false, state.StatusFailed: false, state.StatusCanceled: false, state.StatusSucceeded: true} {
		got, err := CheckDrift(ctx, DriftOptions{State: &state.State{Status: status}, Plan: dp})
		if err != nil || (len(got) == 1) != want {
			t.Errorf("status %s: CheckDrift = %q, %v; want a line: %v", status, got, err, want)
		}
		if want && !strings.Contains(got[0], "cannot tell whether the target was used since") {
			t.Errorf("status %s: %q", status, got[0])
		}
	}
	if got, err := CheckDrift(ctx, DriftOptions{State: &state.State{Status: state.StatusSucceeded}, Plan: &plan.DestroyPlan{}}); got != nil || err != nil {
		t.Errorf("empty plan: CheckDrift = %q, %v", got, err)
	}
}

// TestDriftServers records a baseline and checks it on each server version: nothing found
// after writes elsewhere, then each kind of change found, including a row written by a session
// still open (its counters not yet reported when the check starts).
func TestDriftServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL servers")
	}
	for _, major := range []int{11, 15, 18} {
		t.Run(fmt.Sprint(major), func(t *testing.T) {
			c := pgtest.Start(t, major)
			ctx := context.Background()
			exec := func(db, sql string) {
				t.Helper()
				if err := c.Exec(ctx, db, sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			exec("postgres", "CREATE DATABASE app")
			exec("postgres", "CREATE ROLE app_owner LOGIN PASSWORD 'one'")
			exec("app", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1, 100) g; CREATE VIEW v AS SELECT * FROM t; ANALYZE")
			target := serverOf(c, "target", c.User, c.Password)
			st := &state.State{Status: state.StatusSucceeded, Created: []state.Change{
				{Type: plan.ChangeRole, Name: "app_owner", Op: plan.OpCreated},
				{Type: plan.ChangeDatabase, Name: "app", Op: plan.OpCreated},
			}}
			start := time.Now()
			b, err := RecordBaseline(ctx, target, st)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("baseline taken in %s", time.Since(start).Round(time.Millisecond))
			if d := b.Databases["app"]; d == nil || d.Tables[`"public"."t"`][1] != 100 || b.Roles["app_owner"] == nil || b.Roles["app_owner"].Password == "" {
				t.Fatalf("baseline: %+v %+v %+v", b, b.Databases["app"], b.Roles["app_owner"])
			}
			st.Baseline = b
			check := func() []string {
				t.Helper()
				got, err := CheckDrift(ctx, DriftOptions{Target: target, State: st, Plan: plan.PlanDestroy(st)})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			if got := check(); got != nil {
				t.Fatalf("right after the baseline: %q", got)
			}
			// Written elsewhere, and read in the migrated database: nothing to report.
			exec("postgres", "CREATE TABLE elsewhere (id int); INSERT INTO elsewhere VALUES (1)")
			exec("app", "SELECT count(*) FROM t; CREATE TEMP TABLE scratch (id int); INSERT INTO scratch VALUES (1)")
			if got := check(); got != nil {
				t.Fatalf("after writes elsewhere: %q", got)
			}
			// A row inserted by a session that stays open and idle.
			conn, err := c.Connect(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (1000, 'prod')"); err != nil {
				t.Fatal(err)
			}
			if got := check(); !contains(got, "database.app: 1 session connected ("+c.User+" from 127.0.0.1, idle): it is in use") {
				t.Fatalf("after an insert by an open session: %q", got)
			}
			// Once it is gone, its counters are reported.
			conn.Close(ctx)
			want := []string{`database.app.table["public"."t"]: 1 row inserted since apply finished`}
			if got := check(); !reflect.DeepEqual(got, want) {
				t.Fatalf("after an insert by a session gone since: %q, want %q", got, want)
			}
			exec("app", "CREATE SCHEMA audit; CREATE FUNCTION audit.f(int) RETURNS int LANGUAGE sql AS 'SELECT $1'; CREATE INDEX t_v ON t (v); ALTER TABLE t ADD CONSTRAINT t_v_check CHECK (v <> '')")
			exec("app", "CREATE RULE no_delete AS ON DELETE TO t DO INSTEAD NOTHING; SELECT lo_create(424242)")
			exec("postgres", "ALTER ROLE app_owner PASSWORD 'two'")
			got := check()
			for _, w := range []string{
				"role.app_owner: password changed since apply finished",
				`database.app.table["public"."t"]: 1 row inserted since apply finished`,
				"database.app: schema audit created since apply finished",
				"database.app: function audit.f(integer) created since apply finished",
				"database.app: index t_v created since apply finished",
				"database.app: constraint t_v_check on t created since apply finished",
				"database.app: rule no_delete on t created since apply finished",
				"database.app: large object 424242 created since apply finished",
			} {
				if !contains(got, w) {
					t.Errorf("missing %q in\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			// A reset is seen in the database's stats_reset, or (before 15, when the baseline was
			// read before the collector made the database's entry) in its tables' counters.
			exec("app", "SELECT pg_stat_reset()")
			if got := check(); !contains(got, "database.app: its statistics were reset since apply finished") &&
				!contains(got, `database.app.table["public"."t"]: its statistics were reset since apply finished`) {
				t.Errorf("after pg_stat_reset: %q", got)
			}
		})
	}
}

func contains(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
