package forecast

import (
	"math"
	"testing"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/plan"
)

// rates are round numbers, so that each price can be worked out by hand.
var rates = Rates{
	SourceRTT: time.Millisecond, TargetRTT: time.Millisecond, Connect: 10 * time.Millisecond,
	CopyRate: 100e6, WireRatio: 1, SmallCopy: 5 * time.Millisecond,
	WALFlush: 2 * time.Millisecond, WALFlushAfter: 1e6, WALLogged: true,
	IndexRow: time.Microsecond, SampleRows: 10000, JoinRow: time.Microsecond,
	AnalyzeRow: 10 * time.Microsecond, AnalyzeRows: 30000,
	ScanRate: 1e9, ChecksumRate: 200e6,
	Statement: time.Millisecond, CreateTable: 2 * time.Millisecond,
	Contention: 1, Streams: 1,
}

func shopCatalog() *catalog.Database {
	return &catalog.Database{
		Name: "shop",
		Tables: []catalog.Table{
			{Schema: "public", Name: "orders", Kind: "r", RowEstimate: 1_000_000, Pages: 12207, SizeBytes: 100e6},
			{Schema: "public", Name: "customers", Kind: "r", RowEstimate: 10_000, Pages: 122, SizeBytes: 1e6},
			{Schema: "public", Name: "events", Kind: "p"},
		},
		Indexes: []catalog.Index{
			{Schema: "public", Name: "orders_pkey", Table: "orders", Method: "btree", Primary: true, SizeBytes: 20e6},
			{Schema: "public", Name: "orders_tags", Table: "orders", Method: "gin", SizeBytes: 10e6},
		},
		Constraints: []catalog.Constraint{
			{Schema: "public", Table: "orders", Name: "orders_customer_fkey", Type: "f", RefTable: "public.customers"},
			{Schema: "public", Table: "customers", Name: "customers_last_order_fkey", Type: "f", RefTable: "public.orders"},
		},
		Objects: map[string]int{"tables": 3, "views": 2, "indexes": 2, "constraints": 3, "triggers": 1},
	}
}

func near(got, want time.Duration) bool {
	return math.Abs(float64(got-want)) <= float64(want)*1e-6+float64(time.Microsecond)
}

// TestPrice prices each kind of action from the rates and the action's size, as the model's
// comments say.
func TestPrice(t *testing.T) {
	dbs := map[string]*catalog.Database{"shop": shopCatalog()}
	stmt := rates.TargetRTT + rates.Statement // one statement on the target
	for _, tc := range []struct {
		name string
		a    plan.Action
		want time.Duration
	}{
		{"copy: fixed cost, stream, WAL's CPU",
			plan.Action{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "orders", BytesEstimate: 100e6},
			// the first MiB at 100 MB/s (10.486 ms), the rest overlapped at 200 MB/s (494.757 ms);
			// +10% WAL CPU (the WAL writer's flushes run beside)
			5*time.Millisecond + 505243*time.Microsecond + 50524300*time.Nanosecond},
		{"part: priced as a copy of its bytes",
			plan.Action{Type: plan.TypeTablePart, Database: "shop", Schema: "public", Name: "orders", BytesEstimate: 50e6},
			5*time.Millisecond + 255243*time.Microsecond + 25524300*time.Nanosecond},
		{"small copy: both sides in turn",
			plan.Action{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "customers", BytesEstimate: 1e6},
			// 1 MB within the buffer, at the sample's 100 MB/s; WAL 1 ms CPU
			5*time.Millisecond + 10*time.Millisecond + time.Millisecond},
		{"split table: its TRUNCATE",
			plan.Action{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "orders", Parts: 2, BytesEstimate: 100e6},
			2 * stmt},
		{"btree index: the statement, its file's sync, rows × per-row build, its WAL",
			plan.Action{Type: plan.TypeIndex, Database: "shop", Schema: "public", Name: "orders_pkey", Table: "orders", BytesEstimate: 20e6},
			// the sample's 10 ms build less a statement's 1 ms, over its 10,000 rows: 0.9 µs a row;
			// 1M rows; 20 MB of WAL: 10% of its 0.2 s write
			stmt + rates.WALFlush + 900*time.Millisecond + 20*time.Millisecond},
		{"gin index: three times a btree's build",
			plan.Action{Type: plan.TypeIndex, Database: "shop", Schema: "public", Name: "orders_tags", Table: "orders", BytesEstimate: 10e6},
			stmt + rates.WALFlush + 2700*time.Millisecond + 10*time.Millisecond},
		{"foreign key: the table's rows looked up, the smaller referenced table hashed (half the self-join each)",
			plan.Action{Type: plan.TypeConstraint, Database: "shop", Schema: "public", Name: "orders_customer_fkey", Table: "orders"},
			stmt + time.Duration(505_000)*time.Microsecond},
		{"foreign key to a larger table: its unique index probed per row of the table, not hashed",
			plan.Action{Type: plan.TypeConstraint, Database: "shop", Schema: "public", Name: "customers_last_order_fkey", Table: "customers"},
			stmt + time.Duration(10_000)*time.Microsecond},
		{"schema: one statement per entry, pipelined, tables dearer",
			plan.Action{Type: plan.TypeSchema, Database: "shop"},
			// pipelined: one round trip for the 5 entries; 3 tables at 4 × 2 ms; views (2) at
			// a statement's server time each
			rates.Connect + rates.TargetRTT + 2*rates.Statement + 3*4*rates.CreateTable},
		{"role: a few statements",
			plan.Action{Type: plan.TypeRole, Name: "app"}, 3 * stmt},
		{"extension: statements and a guessed script",
			plan.Action{Type: plan.TypeExtension, Database: "shop", Name: "pgcrypto"}, 3*stmt + extensionCost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := newPricing(rates, 2, "checksum", dbs)
			if got := pr.action(&tc.a); !near(got, tc.want) {
				t.Errorf("price %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPriceAnalyze: the analyze action does what the analyze lane does not (parents, jobs at a
// time), whatever the copies' contention; the lane's ANALYZE of each plain table the plan loads
// (its sampled rows, and its sampled pages read at the scan rate) is priced apart, for the
// simulation to replay beside the graph.
func TestPriceAnalyze(t *testing.T) {
	dbs := map[string]*catalog.Database{"shop": shopCatalog()}
	stmt := rates.TargetRTT + rates.Statement
	// events (a partitioned parent, no rows): its statement, on one of 2 connections; the lane's
	// connection, no new one.
	want := stmt + stmt/2
	for _, contention := range []float64{1, 3} {
		pr := newPricing(rates, 2, "none", dbs)
		pr.contention["shop"] = contention
		if got := pr.action(&plan.Action{Type: plan.TypeAnalyze, Database: "shop"}); !near(got, want) {
			t.Errorf("analyze, contention %g: %s, want %s", contention, got, want)
		}
	}
	p := &plan.Plan{Databases: []string{"shop"}, Actions: []*plan.Action{
		{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "orders"},
		{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "events"},
		{Type: plan.TypeAnalyze, Database: "shop"},
	}}
	// orders: 30,000 sampled rows × 10 µs, 12,207 pages × 8 kB at 1 GB/s; customers is not
	// loaded, events is a parent (the action's).
	got := rates.Analyses(p, 2, "none", dbs)
	orders := stmt + 300*time.Millisecond + time.Duration(12207*8192)*time.Nanosecond
	if len(got) != 1 || len(got["shop"]) != 1 || !near(got["shop"]["public.orders"], orders) {
		t.Errorf("lane's analyses %v, want shop: public.orders %s", got, orders)
	}
	p.Actions = p.Actions[:2]
	if got := rates.Analyses(p, 2, "none", dbs); len(got) != 0 {
		t.Errorf("lane's analyses without an analyze action: %v, want none", got)
	}
}

// TestPriceSchemaPipelined: on a slow link pre-data pays a round trip per window of entries, not
// one per entry (apply pipelines them).
func TestPriceSchemaPipelined(t *testing.T) {
	r := rates
	r.TargetRTT = 20 * time.Millisecond
	d := &catalog.Database{Objects: map[string]int{"tables": 250, "views": 50}}
	pr := newPricing(r, 2, "none", map[string]*catalog.Database{"db": d})
	// 300 entries: 1 + 300/100 round trips; 50 views at 1 ms; 250 tables at 4 × 2 ms
	want := r.Connect + 4*r.TargetRTT + 50*r.Statement + 250*4*r.CreateTable
	if got := pr.action(&plan.Action{Type: plan.TypeSchema, Database: "db"}); !near(got, want) {
		t.Errorf("schema of 300 entries at 20 ms: %s, want %s", got, want)
	}
}

// TestPriceWithoutWAL: a target that skips the WAL of tables loaded in the transaction that
// emptied them (wal_level minimal) or flushes nothing (fsync off) costs the stream alone.
func TestPriceWithoutWAL(t *testing.T) {
	r := rates
	r.WALLogged = false
	pr := newPricing(r, 1, "none", map[string]*catalog.Database{"shop": shopCatalog()})
	a := &plan.Action{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "orders", BytesEstimate: 100e6}
	if got, want := pr.action(a), 5*time.Millisecond+505243*time.Microsecond; !near(got, want) {
		t.Errorf("copy without WAL: %s, want %s", got, want)
	}
}

// TestPriceVerify: verify reads every table on both sides at once, jobs/2 connections a side,
// and is never faster than its largest table; count reads at the scan rate, checksum at its own.
func TestPriceVerify(t *testing.T) {
	dbs := map[string]*catalog.Database{"shop": shopCatalog()}
	base := 2*rates.Connect + catalogRead(shopCatalog(), rates)
	for _, tc := range []struct {
		mode string
		jobs int
		want time.Duration
	}{
		// checksum: orders 100 MB at 200 MB/s (0.5 s) bounds the two tables on 2 connections
		{"checksum", 4, base + rates.TargetRTT + 500*time.Millisecond},
		// one connection a side: both tables in turn
		{"checksum", 2, base + 2*rates.TargetRTT + 500*time.Millisecond + 5*time.Millisecond},
		{"count", 2, base + 2*rates.TargetRTT + 100*time.Millisecond + time.Millisecond},
	} {
		pr := newPricing(rates, tc.jobs, tc.mode, dbs)
		if got := pr.verifyCost("shop", 1); !near(got, tc.want) {
			t.Errorf("verify %s, jobs %d: %s, want %s", tc.mode, tc.jobs, got, tc.want)
		}
	}
	if got := newPricing(rates, 2, "none", dbs).verifyCost("shop", 1); got != 0 {
		t.Errorf("verify none: %s, want 0", got)
	}
}

// TestContention: the measured slowdown applies to copies as far as they can run at once (not to
// one table copied alone, fully where jobs tables of equal size share the lanes), and so to the
// indexes and foreign keys after them: one table that dominates builds and checks alone.
func TestContention(t *testing.T) {
	r := rates
	r.Contention, r.Streams = 2, 2
	copyOf := func(name string, bytes int64) *plan.Action {
		return &plan.Action{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: name, BytesEstimate: bytes}
	}
	for _, tc := range []struct {
		name    string
		actions []*plan.Action
		jobs    int
		copies  float64
	}{
		{"one table", []*plan.Action{copyOf("a", 100e6)}, 2, 1},
		{"two equal tables, 2 jobs", []*plan.Action{copyOf("a", 100e6), copyOf("b", 100e6)}, 2, 2},
		{"two equal tables, 1 job", []*plan.Action{copyOf("a", 100e6), copyOf("b", 100e6)}, 1, 1},
		{"a large table and a half", []*plan.Action{copyOf("a", 100e6), copyOf("b", 50e6)}, 2, 1.5},
		{"many equal tables, 4 jobs", []*plan.Action{copyOf("a", 1e6), copyOf("b", 1e6), copyOf("c", 1e6), copyOf("d", 1e6)}, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &plan.Plan{Databases: []string{"shop"}, Actions: tc.actions}
			dbs := map[string]*catalog.Database{"shop": {Tables: []catalog.Table{{Schema: "public", Name: "a", Kind: "r", RowEstimate: 1e6}}}}
			pr := newPricing(r, tc.jobs, "none", dbs)
			if got := pr.contentionFor(p, "shop"); math.Abs(got-tc.copies) > 0.01 {
				t.Errorf("copies' contention %.3f, want %.3f", got, tc.copies)
			}
			pr.contention["shop"] = pr.contentionFor(p, "shop")
			ix := &plan.Action{Type: plan.TypeIndex, Database: "shop", Schema: "public", Name: "a_pkey", Table: "a"}
			alone := newPricing(rates, tc.jobs, "none", dbs).action(ix)
			fixed := pr.statement(1) + r.WALFlush // not slowed: the statement, the file's sync
			if got, want := pr.action(ix), time.Duration(float64(alone-fixed)*pr.contention["shop"])+fixed; !near(got, want) {
				t.Errorf("index after the copies %s, want %s (%.2f× its price alone)", got, want, tc.copies)
			}
		})
	}
}

// TestPricePlan: every action of a plan gets a duration above zero, the fixed part covers each
// database's schema dump, and the share of guesses widens the range.
func TestPricePlan(t *testing.T) {
	dbs := map[string]*catalog.Database{"shop": shopCatalog()}
	p := &plan.Plan{Databases: []string{"shop"}, Actions: []*plan.Action{
		{Address: "role.app", Type: plan.TypeRole},
		{Address: "database.shop", Type: plan.TypeDatabase, Database: "shop"},
		{Address: "database.shop.extension.pgcrypto", Type: plan.TypeExtension, Database: "shop"},
		{Address: "database.shop.schema", Type: plan.TypeSchema, Database: "shop"},
		{Address: plan.TableAddr("shop", "public", "orders"), Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "orders", BytesEstimate: 100e6},
		{Address: "database.shop.sequences", Type: plan.TypeSequences, Database: "shop"},
		{Address: "database.shop.large_objects", Type: plan.TypeLargeObj, Database: "shop", RowsEstimate: 10},
		{Address: "database.shop.post_data", Type: plan.TypePostData, Database: "shop"},
		{Address: "database.shop.analyze", Type: plan.TypeAnalyze, Database: "shop"},
		{Address: "database.shop.verify", Type: plan.TypeVerify, Database: "shop"},
	}}
	durations, fixed, guessed := rates.Price(p, 2, "checksum", dbs)
	if len(durations) != len(p.Actions) {
		t.Fatalf("%d durations for %d actions", len(durations), len(p.Actions))
	}
	for i, d := range durations {
		if d <= 0 {
			t.Errorf("%s: %s, want above zero", p.Actions[i].Address, d)
		}
	}
	if fixed < pgDumpStart {
		t.Errorf("fixed %s, want at least pg_dump's start %s", fixed, pgDumpStart)
	}
	// An apply without a prompt opens the first database's source while its plan is made: all of
	// fixed but the connections of the run and of the durability barrier.
	pre := rates.Prefetchable(p, 2, "checksum", dbs)
	if want := fixed - 3*rates.Connect; !near(pre, want) {
		t.Errorf("prefetchable %s of fixed %s, want %s (fixed but three connections)", pre, fixed, want)
	}
	e := (&Estimate{Fixed: fixed, Prefetchable: pre}).Prefetched()
	if !near(e.Fixed, 3*rates.Connect) || e.Prefetchable != 0 {
		t.Errorf("prefetched estimate: fixed %s (prefetchable %s), want %s", e.Fixed, e.Prefetchable, 3*rates.Connect)
	}
	if guessed <= 0 || guessed >= 1 {
		t.Errorf("guessed share %.3f, want within (0, 1): the extension and the large objects are guesses", guessed)
	}
	if s := modelSpread(guessed, false, 0); s <= modelSpread(0, false, 0) {
		t.Errorf("spread %.3f with guesses, %.3f without: want wider", s, modelSpread(0, false, 0))
	}
	for _, tc := range []struct {
		name           string
		guessed, noise float64
		generic        bool
		want           float64
	}{
		{"measured, quiet", 0, 0, false, 0.3},
		{"halves 40% apart", 0, 0.4, false, 0.5},
		{"a very busy server", 0, 3, false, 0.6},
		{"generic rows", 0, 0, true, 0.45},
		{"all guessed, busy, generic: capped", 1, 3, true, 0.8},
	} {
		if got := modelSpread(tc.guessed, tc.generic, tc.noise); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("spread, %s: %.3f, want %.3f", tc.name, got, tc.want)
		}
	}
}

// TestPriceStatisticsCarried: where apply carries the source's statistics over (PostgreSQL 18),
// a table's costs one statement of restore calls, not its ANALYZE; a table with extended
// statistics, or never counted on the source, is still analyzed.
func TestPriceStatisticsCarried(t *testing.T) {
	cat := shopCatalog()
	cat.Tables = append(cat.Tables,
		catalog.Table{Schema: "public", Name: "stats", Kind: "r", RowEstimate: 1_000_000, Pages: 12207, SizeBytes: 100e6, HasExtendedStats: true},
		catalog.Table{Schema: "public", Name: "fresh", Kind: "r", RowEstimate: -1, Pages: 12207, SizeBytes: 100e6})
	dbs := map[string]*catalog.Database{"shop": cat}
	p := &plan.Plan{Databases: []string{"shop"}, Actions: []*plan.Action{
		{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "orders"},
		{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "fresh"},
		{Type: plan.TypeTable, Database: "shop", Schema: "public", Name: "stats"},
		{Type: plan.TypeAnalyze, Database: "shop"},
	}}
	stmt := rates.TargetRTT + rates.Statement
	analyzed := rates.Analyses(p, 2, "none", dbs)
	r := rates
	r.CarriesStatistics = true
	carried := r.Analyses(p, 2, "none", dbs)["shop"]
	if got := carried["public.orders"]; !near(got, stmt) {
		t.Errorf("orders carried over: %s, want one statement %s", got, stmt)
	}
	if near(analyzed["shop"]["public.orders"], stmt) {
		t.Errorf("orders analyzed: %s, want its ANALYZE, more than a statement", analyzed["shop"]["public.orders"])
	}
	// stats has extended statistics: the analyze action's ANALYZE, on 2 connections; fresh was never counted.
	pr := newPricing(r, 2, "none", dbs)
	if got, want := pr.action(&plan.Action{Type: plan.TypeAnalyze, Database: "shop"}), stmt+(stmt+pr.analyzeTable(&cat.Tables[3]))/2; !near(got, want) {
		t.Errorf("analyze action %s, want %s (events restored, stats analyzed)", got, want)
	}
	if got, want := carried["public.fresh"], pr.analyzeTable(&cat.Tables[4]); !near(got, want) {
		t.Errorf("fresh (never counted on the source): %s, want its ANALYZE %s", got, want)
	}
}
