package forecast

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
)

const sec = time.Second

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// shop is a plan of one role and one database: two tables (big is 4 GB, small 1 MB), an index on
// each, a foreign key from small to big, ANALYZE and verify.
func shop(bigBytes int64) *plan.Plan {
	db := "shop"
	schema := plan.DatabaseAddr(db) + ".schema"
	big, small := plan.TableAddr(db, "public", "big"), plan.TableAddr(db, "public", "small")
	bigIx, smallIx := plan.IndexAddr(db, "public", "big_pkey"), plan.IndexAddr(db, "public", "small_pkey")
	fk := plan.ConstraintAddr(db, "public", "small", "small_big_fkey")
	acts := []*plan.Action{
		{Address: "role.app", Type: plan.TypeRole, Kind: plan.Create},
		{Address: plan.DatabaseAddr(db), Type: plan.TypeDatabase, Kind: plan.Create, Database: db, DependsOn: []string{"role.app"}},
		{Address: schema, Type: plan.TypeSchema, Kind: plan.Create, Database: db, DependsOn: []string{plan.DatabaseAddr(db)}},
		{Address: big, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: "big", BytesEstimate: bigBytes, RowsEstimate: bigBytes / 100, DependsOn: []string{schema}},
		{Address: small, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: "small", BytesEstimate: 1 << 20, RowsEstimate: 10000, DependsOn: []string{schema}},
		{Address: bigIx, Type: plan.TypeIndex, Kind: plan.Create, Database: db, Schema: "public", Name: "big_pkey", Table: "big", BytesEstimate: bigBytes / 4, DependsOn: []string{big}},
		{Address: smallIx, Type: plan.TypeIndex, Kind: plan.Create, Database: db, Schema: "public", Name: "small_pkey", Table: "small", BytesEstimate: 1 << 18, DependsOn: []string{small}},
		{Address: fk, Type: plan.TypeConstraint, Kind: plan.Create, Database: db, Schema: "public", Name: "small_big_fkey", Table: "small", DependsOn: []string{bigIx, smallIx}},
		{Address: plan.DatabaseAddr(db) + ".analyze", Type: plan.TypeAnalyze, Kind: plan.Create, Database: db, DependsOn: []string{big, small}},
		{Address: plan.DatabaseAddr(db) + ".verify", Type: plan.TypeVerify, Kind: plan.Create, Database: db, DependsOn: []string{fk, plan.DatabaseAddr(db) + ".analyze"}},
	}
	return &plan.Plan{Migration: "m", Databases: []string{db}, Actions: acts}
}

// shopDurations: role 100ms, database 200ms, schema 300ms, big 6s, small 1s, big_pkey 2s,
// small_pkey 200ms, fk 1s, analyze 500ms, verify 400ms.
var shopDurations = []time.Duration{ms(100), ms(200), ms(300), 6 * sec, 1 * sec, 2 * sec, ms(200), 1 * sec, ms(500), ms(400)}

func TestMake(t *testing.T) {
	p := shop(4 << 30)
	big := []string{"role.app", "database.shop", "database.shop.schema", `database.shop.table["public"."big"]`,
		`database.shop.index["public"."big_pkey"]`, `database.shop.constraint["public"."small"."small_big_fkey"]`, "database.shop.verify"}
	for _, tc := range []struct {
		name   string
		jobs   int
		e      Estimate
		want   time.Duration
		low    time.Duration
		high   time.Duration
		path   []string
		pathMS []int64
	}{
		{
			// 0.1 + 0.2 serial, then schema 0.3, big 6 beside small 1 + small_pkey 0.2 (+analyze
			// after big), big_pkey 2, fk 1, verify 0.4.
			name: "two jobs", jobs: 2, e: Estimate{Basis: BasisRehearsal, Run: 3, Spread: 0.1},
			want: ms(100 + 200 + 300 + 6000 + 2000 + 1000 + 400), low: ms(9000), high: ms(11000),
			path: big, pathMS: []int64{100, 200, 300, 6000, 2000, 1000, 400},
		},
		{
			// One lane: every action one after another.
			name: "one job", jobs: 1, e: Estimate{Basis: BasisModel, Spread: 0.3},
			want: ms(100 + 200 + 300 + 6000 + 1000 + 2000 + 200 + 1000 + 500 + 400), low: ms(11700 * 7 / 10), high: ms(11700 * 13 / 10),
		},
		{
			// Time outside the graph is added; jobs beyond the graph's width change nothing.
			name: "fixed", jobs: 8, e: Estimate{Basis: BasisRehearsal, Run: 1, Fixed: 2 * sec},
			want: ms(12000), low: ms(12000), high: ms(12000), path: big, pathMS: []int64{100, 200, 300, 6000, 2000, 1000, 400},
		},
		{
			// Each confirmation waits for the state write: every dependent on the path starts later.
			name: "confirm delay", jobs: 2, e: Estimate{Basis: BasisRehearsal, Run: 1, ConfirmDelay: ms(50)},
			want: ms(10000 + 5*50), low: ms(10250), high: ms(10250), path: big,
		},
		{
			// A spread above the cap is capped.
			name: "spread capped", jobs: 2, e: Estimate{Basis: BasisRehearsal, Run: 1, Spread: 3},
			want: ms(10000), low: ms(2500), high: ms(17500),
		},
		{
			// The model replays the copies that start while pre-data streams into the database
			// the run creates: big (the first of two tables) halfway through the schema action's
			// 0.3 s, on the other lane, so the path is 0.15 s shorter. (A rehearsal's replay
			// leaves them out on both sides of its calibration.)
			name: "model: early copies", jobs: 2, e: Estimate{Basis: BasisModel, Spread: 0.3},
			want: ms(9850), low: ms(6895), high: ms(12805),
			path:   []string{"role.app", "database.shop", "database.shop.schema", `database.shop.table["public"."big"]`, `database.shop.index["public"."big_pkey"]`, `database.shop.constraint["public"."small"."small_big_fkey"]`, "database.shop.verify"},
			pathMS: []int64{100, 200, 300, 6000, 2000, 1000, 400},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			e.Durations = shopDurations
			f, err := Make(p, tc.jobs, &e)
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(f.ExpectedMS) * time.Millisecond; got != tc.want {
				t.Errorf("expected %v, want %v", got, tc.want)
			}
			if got := time.Duration(f.LowMS) * time.Millisecond; got != tc.low {
				t.Errorf("low %v, want %v", got, tc.low)
			}
			if got := time.Duration(f.HighMS) * time.Millisecond; got != tc.high {
				t.Errorf("high %v, want %v", got, tc.high)
			}
			if f.Basis != tc.e.Basis || f.Jobs != tc.jobs {
				t.Errorf("basis %q jobs %d, want %q %d", f.Basis, f.Jobs, tc.e.Basis, tc.jobs)
			}
			if tc.e.Basis == BasisRehearsal && f.BasisRun != tc.e.Run {
				t.Errorf("basis run %d, want %d", f.BasisRun, tc.e.Run)
			}
			if tc.path != nil && !reflect.DeepEqual(f.CriticalPath, tc.path) {
				t.Errorf("critical path\n%q\nwant\n%q", f.CriticalPath, tc.path)
			}
			if tc.pathMS != nil && !reflect.DeepEqual(f.CriticalMS, tc.pathMS) {
				t.Errorf("critical path durations %v, want %v", f.CriticalMS, tc.pathMS)
			}
			if len(f.CriticalMS) != len(f.CriticalPath) {
				t.Errorf("%d durations for %d steps", len(f.CriticalMS), len(f.CriticalPath))
			}
		})
	}
}

// TestMakeDatabases: databases run one after another, each through its own simulation; the path
// goes through both.
func TestMakeDatabases(t *testing.T) {
	p := shop(4 << 30)
	second := shop(4 << 30)
	var durs []time.Duration
	durs = append(durs, shopDurations...)
	for _, a := range second.Actions[1:] { // the same role is not created twice
		b := *a
		b.Address = strings.Replace(b.Address, "database.shop", "database.shop2", 1)
		b.Database = "shop2"
		for k, d := range b.DependsOn {
			b.DependsOn = append([]string(nil), b.DependsOn...)
			b.DependsOn[k] = strings.Replace(d, "database.shop", "database.shop2", 1)
		}
		p.Actions = append(p.Actions, &b)
	}
	durs = append(durs, shopDurations[1:]...)
	p.Databases = append(p.Databases, "shop2")
	f, err := Make(p, 2, &Estimate{Basis: BasisModel, Durations: durs})
	if err != nil {
		t.Fatal(err)
	}
	// Each database's big table is copied from halfway through its schema action (early copies).
	if want := int64(100 + 2*9750); f.ExpectedMS != want {
		t.Errorf("expected %dms, want %dms", f.ExpectedMS, want)
	}
	if n := len(f.CriticalPath); n != 13 || f.CriticalPath[n-1] != "database.shop2.verify" || f.CriticalPath[7] != "database.shop2" {
		t.Errorf("critical path %q", f.CriticalPath)
	}
}

func TestMakeErrors(t *testing.T) {
	p := shop(1 << 20)
	if _, err := Make(p, 2, nil); err == nil {
		t.Error("no estimate: no error")
	}
	if _, err := Make(p, 2, &Estimate{Durations: shopDurations[:3]}); err == nil || !strings.Contains(err.Error(), "prices 3 actions, the plan has 10") {
		t.Errorf("short estimate: %v", err)
	}
}

// TestEarlyStarts: copies start early only into a database the run creates, and only plain
// tables that wait for nothing of the database but the schema action (not a split table's, not
// one that waits for another table), one gate step each in pg_dump's order (schema, then name).
func TestEarlyStarts(t *testing.T) {
	p := shop(4 << 30)
	sub := p.Actions[2:] // the database's actions after its database action
	tasks, steps := earlyStarts(sub, true)
	if steps != 2 || !tasks[0].Gate || tasks[1].Early != 1 || tasks[2].Early != 2 || tasks[3].Early != 0 {
		t.Errorf("created: steps %d, gate %v, early %d %d %d; want 2, true, 1 2 0", steps, tasks[0].Gate, tasks[1].Early, tasks[2].Early, tasks[3].Early)
	}
	if tasks, steps := earlyStarts(sub, false); steps != 0 || tasks[0].Gate || tasks[1].Early != 0 {
		t.Errorf("existing database: steps %d, want no early start", steps)
	}
	// pg_dump's order, schema then name: big in a schema that sorts after small's comes last.
	late := *sub[1]
	late.Schema = "zz"
	if tasks, _ := earlyStarts([]*plan.Action{sub[0], &late, sub[2]}, true); tasks[1].Early != 2 || tasks[2].Early != 1 {
		t.Errorf("zz.big and public.small: early %d %d, want 2 1 (pg_dump's order)", tasks[1].Early, tasks[2].Early)
	}
	split := *sub[1]
	split.Parts = 2
	waits := *sub[2]
	waits.DependsOn = append([]string{sub[1].Address}, waits.DependsOn...)
	if _, steps := earlyStarts([]*plan.Action{sub[0], &split, &waits}, true); steps != 0 {
		t.Errorf("a split table and a table waiting for another action: %d early, want none", steps)
	}
}

// bench is a pgbench-like database's graph (its schema action first, no database action):
// accounts (4 s) with a primary key (2 s, ALTER TABLE … ADD PRIMARY KEY), branches with one, a
// foreign key from accounts to branches (1 s) and one from history (empty) to accounts (10 ms),
// post-data and the analyze action.
func bench() ([]*plan.Action, []time.Duration) {
	db := "b"
	schema := plan.DatabaseAddr(db) + ".schema"
	tbl := func(n string) string { return plan.TableAddr(db, "public", n) }
	ix := func(n string) string { return plan.IndexAddr(db, "public", n+"_pkey") }
	fk := func(t, n string) string { return plan.ConstraintAddr(db, "public", t, n) }
	post := plan.DatabaseAddr(db) + ".post_data"
	acts := []*plan.Action{
		{Address: schema, Type: plan.TypeSchema, Database: db},
		{Address: tbl("accounts"), Type: plan.TypeTable, Database: db, Schema: "public", Name: "accounts", DependsOn: []string{schema}},
		{Address: tbl("branches"), Type: plan.TypeTable, Database: db, Schema: "public", Name: "branches", DependsOn: []string{schema}},
		{Address: tbl("history"), Type: plan.TypeTable, Database: db, Schema: "public", Name: "history", DependsOn: []string{schema}},
		{Address: ix("accounts"), Type: plan.TypeIndex, Database: db, Schema: "public", Name: "accounts_pkey", Table: "accounts", ConstraintOID: 1, DependsOn: []string{tbl("accounts")}},
		{Address: ix("branches"), Type: plan.TypeIndex, Database: db, Schema: "public", Name: "branches_pkey", Table: "branches", ConstraintOID: 2, DependsOn: []string{tbl("branches")}},
		{Address: fk("accounts", "accounts_bid_fkey"), Type: plan.TypeConstraint, Database: db, Schema: "public", Name: "accounts_bid_fkey", Table: "accounts",
			DependsOn: []string{tbl("accounts"), tbl("branches"), ix("branches")}},
		{Address: fk("history", "history_aid_fkey"), Type: plan.TypeConstraint, Database: db, Schema: "public", Name: "history_aid_fkey", Table: "history",
			DependsOn: []string{tbl("history"), tbl("accounts"), ix("accounts")}},
		{Address: post, Type: plan.TypePostData, Database: db, DependsOn: []string{tbl("accounts"), tbl("branches"), tbl("history"), ix("accounts"), ix("branches"),
			fk("accounts", "accounts_bid_fkey"), fk("history", "history_aid_fkey")}},
		{Address: plan.DatabaseAddr(db) + ".analyze", Type: plan.TypeAnalyze, Database: db, DependsOn: []string{post,
			fk("accounts", "accounts_bid_fkey"), fk("history", "history_aid_fkey")}},
	}
	return acts, []time.Duration{ms(300), 4 * sec, ms(100), ms(100), 2 * sec, ms(100), 1 * sec, ms(10), ms(10), ms(50)}
}

// TestReplayLocks: the model replays what the server serialises. Two jobs: accounts is copied
// until 4.3 s; its primary key (ACCESS EXCLUSIVE) until 6.3 s, and the foreign key to branches,
// started beside it at 4.3 s, waits for it (until 7.3 s); without the lane, the foreign key from
// history waits for that one (SHARE ROW EXCLUSIVE on accounts both), until 7.31 s. The analyze
// lane analyzes branches and history right after their copies, and accounts once its copy and
// primary key are done (not its foreign keys): its ANALYZE (0.8 s), asked for at 6.3 s, before
// the foreign key from history, waits for the one to branches and runs until 8.1 s, and the
// foreign key from history (SHARE ROW EXCLUSIVE against SHARE UPDATE EXCLUSIVE) until 8.11 s;
// the analyze action, after post-data, has nothing left but its own 50 ms: 8.17 s. Without
// locks and lane: 6.37 s.
func TestReplayLocks(t *testing.T) {
	acts, durs := bench()
	analyses := map[string]map[string]time.Duration{"b": {"public.accounts": ms(800), "public.branches": ms(10), "public.history": ms(10)}}
	for _, tc := range []struct {
		name string
		o    replayOptions
		want time.Duration
		path []int
	}{
		{"no locks, no lane", replayOptions{jobs: 2}, ms(6370), []int{0, 1, 4, 7, 8, 9}},
		{"locks", replayOptions{jobs: 2, locks: true}, ms(7370), []int{0, 1, 4, 6, 7, 8, 9}},
		{"locks and the analyze lane", replayOptions{jobs: 2, locks: true, analyses: analyses}, ms(8170), []int{0, 1, 4, 7, 8, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := replay(acts, durs, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if r.total != tc.want || !reflect.DeepEqual(r.path, tc.path) {
				t.Errorf("total %s, path %v; want %s, %v", r.total, r.path, tc.want, tc.path)
			}
		})
	}
	// The foreign key locks both its tables; the primary key (ALTER TABLE) locks all of accounts; a copy, nothing.
	if locks := tableLocks(acts); !reflect.DeepEqual(locks[6], []sched.Lock{{Table: "public.accounts", Mode: sched.ShareRowExclusive}, {Table: "public.branches", Mode: sched.ShareRowExclusive}}) ||
		!reflect.DeepEqual(locks[4], []sched.Lock{{Table: "public.accounts", Mode: sched.AccessExclusive}}) || locks[1] != nil {
		t.Errorf("locks %v", locks)
	}
}
