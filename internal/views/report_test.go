package views

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

var reportStart = time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// lanePlanner places fixture actions as the scheduler does: each on the lane free first, not
// before its dependencies' end.
type lanePlanner struct {
	free    []time.Duration
	actions []ReportAction
}

func (p *lanePlanner) add(a ReportAction, notBefore, took time.Duration) ReportAction {
	lane := 0
	for i, f := range p.free {
		if max(f, notBefore) < max(p.free[lane], notBefore) {
			lane = i
		}
	}
	a.Lane, a.Start = lane, max(p.free[lane], notBefore)
	a.End = a.Start + took
	p.free[lane] = a.End
	p.actions = append(p.actions, a)
	return a
}

// phasesOf is each phase's wall time: its first action's start to its last one's end.
func phasesOf(actions []ReportAction) []ReportPhase {
	var out []ReportPhase
	idx := map[string]int{}
	first := map[string]time.Duration{}
	for _, a := range actions {
		ph := reportPhase(a.Type)
		i, ok := idx[ph]
		if !ok {
			idx[ph], i = len(out), len(out)
			out = append(out, ReportPhase{Name: ph})
			first[ph] = a.Start
		}
		first[ph] = min(first[ph], a.Start)
		out[i].Wall = max(out[i].Wall, a.End-first[ph])
	}
	return out
}

// smallReport is a short apply on two lanes with a name that needs escaping everywhere.
func smallReport() ReportData {
	odd := `we<ird>"&|name`
	tbl := plan.TableAddr("shop", "public", odd)
	acts := []ReportAction{
		{Address: "role.app", Type: plan.TypeRole, Kind: state.KindCreate, Lane: 0, Start: 0, End: ms(20), Critical: true},
		{Address: "database.shop", Type: plan.TypeDatabase, Kind: state.KindCreate, Database: "shop", Lane: 0, Start: ms(20), End: ms(150), Critical: true},
		{Address: plan.TableAddr("shop", "public", "orders"), Type: plan.TypeTable, Kind: state.KindCreate, Database: "shop", Lane: 0, Start: ms(150), End: ms(170), Critical: true},
		{Address: plan.TablePartAddr("shop", "public", "orders", 1), Type: plan.TypeTablePart, Kind: state.KindCreate, Database: "shop", Lane: 0, Start: ms(170), End: ms(2170), Bytes: 100_000_000, Rows: 1_000_000, Critical: true},
		{Address: plan.TablePartAddr("shop", "public", "orders", 2), Type: plan.TypeTablePart, Kind: state.KindCreate, Database: "shop", Lane: 1, Start: ms(170), End: ms(1970), Bytes: 90_000_000, Rows: 900_000},
		{Address: tbl, Type: plan.TypeTable, Kind: state.KindCreate, Database: "shop", Lane: 1, Start: ms(1970), End: ms(2020), Bytes: 8192, Rows: 10},
		{Address: `database.shop.index["public"."orders_pkey"]`, Type: plan.TypeIndex, Kind: state.KindCreate, Database: "shop", Lane: 0, Start: ms(2170), End: ms(3170), Critical: true},
		{Address: `database.shop.constraint["public"."orders"."orders_customer_fkey"]`, Type: plan.TypeConstraint, Kind: state.KindCreate, Database: "shop", Lane: 1, Start: ms(2170), End: ms(2400), Error: "insert or update on table \"orders\" violates foreign key constraint <x>"},
	}
	return ReportData{
		Migration: "shop-to-cloud", Run: 3, Operation: "apply", Outcome: state.StatusFailed,
		Error:     "1 action failed: database.shop.constraint[\"public\".\"orders\".\"orders_customer_fkey\"]",
		StartedAt: reportStart, FinishedAt: reportStart.Add(ms(3200)), GeneratedAt: reportStart.Add(time.Hour),
		PgferryVersion: "v0.9.0",
		Source:         state.Identity{Name: "source", Host: "db1.internal", Port: 5432, User: "migrator", Version: "13.16"},
		Target:         state.Identity{Name: "target", Host: "db2.internal", Port: 5432, User: "admin", Version: "17.2"},
		Jobs:           2,
		Validations: []state.Validation{
			{ID: "server_version", Level: "instance", Outcome: state.Succeeded, Message: "target 17.2 is not older than source 13.16"},
			{ID: "extensions", Level: "database", Database: "shop", Outcome: state.Warning, Message: "pg_stat_statements needs shared_preload_libraries", Objects: []string{"pg_stat_statements"}},
			{ID: "odd_names", Level: "database", Database: "shop", Outcome: state.Succeeded, Message: "table " + odd + " copies as is"},
		},
		Sizes:   ReportSizes{Databases: 1, Tables: 2, Bytes: 190_008_192, Rows: 1_900_010},
		Phases:  phasesOf(acts),
		Actions: acts,
		Forecast: &ReportForecast{Expected: ms(3000), Low: ms(2600), High: ms(3600), Basis: "rehearsal", BasisRun: 1,
			CriticalPath: []string{"database.shop", plan.TablePartAddr("shop", "public", "orders", 1), `database.shop.index["public"."orders_pkey"]`}},
		History: []ReportRun{
			{ID: 1, Operation: "apply", StartedAt: reportStart.Add(-2 * time.Hour), Duration: ms(3400), Forecast: ms(4100), Outcome: state.StatusSucceeded},
			{ID: 2, Operation: "destroy", StartedAt: reportStart.Add(-time.Hour), Duration: ms(600), Outcome: state.StatusSucceeded},
			{ID: 3, Operation: "apply", StartedAt: reportStart, Duration: ms(3200), Forecast: ms(3000), Outcome: state.StatusFailed},
		},
	}
}

var smallTables = []string{"customers", "addresses", "products", "categories", "suppliers", "invoices", "invoice_lines",
	"payments", "refunds", "shipments", "carriers", "warehouses", "stock_moves", "coupons", "campaigns", "sessions",
	"audit_log", "feature_flags", "settings", "users", "user_roles", "api_keys", "webhooks", "webhook_deliveries",
	"notifications", "email_templates", "countries", "currencies", "exchange_rates", "tax_rates", "price_lists",
	"price_list_items", "reviews", "wishlists", "carts", "cart_items", "returns", "tickets", "ticket_comments", "tags"}

// pgbenchReport is a realistic apply: pgbench at scale 20 (pgbench_accounts split in two parts)
// and 40 small tables, two jobs, after two earlier rehearsals.
func pgbenchReport() ReportData {
	p := &lanePlanner{free: make([]time.Duration, 2)}
	db := "bench"
	var path []string
	add := func(a ReportAction, notBefore, took time.Duration, critical bool) time.Duration {
		a.Kind, a.Critical = state.KindCreate, critical
		if a.Database == "" && a.Type != plan.TypeRole {
			a.Database = db
		}
		got := p.add(a, notBefore, took)
		if critical {
			path = append(path, got.Address)
		}
		return got.End
	}
	t := add(ReportAction{Address: "role.bench_owner", Type: plan.TypeRole}, 0, ms(35), true)
	t = add(ReportAction{Address: "database." + db, Type: plan.TypeDatabase}, t, ms(180), true)
	t = add(ReportAction{Address: "database." + db + ".schema", Type: plan.TypeSchema}, t, ms(640), true)
	schemaDone := t
	acc := plan.TableAddr(db, "public", "pgbench_accounts")
	t = add(ReportAction{Address: acc, Type: plan.TypeTable}, t, ms(30), true)
	// 2,000,000 rows, 256 MiB: two parts, about 3.1 s each at ~43 MB/s.
	p1 := add(ReportAction{Address: acc + ".part[1]", Type: plan.TypeTablePart, Bytes: 134_217_728, Rows: 1_000_000}, t, ms(3140), true)
	p2 := add(ReportAction{Address: acc + ".part[2]", Type: plan.TypeTablePart, Bytes: 134_215_680, Rows: 1_000_000}, t, ms(2980), false)
	copied := max(p1, p2)
	for _, tb := range []struct {
		name  string
		bytes int64
		rows  int64
		took  int
	}{{"pgbench_branches", 8192, 20, 12}, {"pgbench_tellers", 16384, 200, 15}, {"pgbench_history", 0, 0, 8}} {
		add(ReportAction{Address: plan.TableAddr(db, "public", tb.name), Type: plan.TypeTable, Bytes: tb.bytes, Rows: tb.rows}, schemaDone, ms(tb.took), false)
	}
	for i, name := range smallTables {
		rows := int64(50 + (i*7919)%20000)
		bytes := rows * int64(90+(i*37)%200)
		took := 15 + int(bytes/1_500_000) + i%7
		add(ReportAction{Address: plan.TableAddr(db, "public", name), Type: plan.TypeTable, Bytes: bytes, Rows: rows}, schemaDone, ms(took), false)
	}
	t = add(ReportAction{Address: `database.bench.index["public"."pgbench_accounts_pkey"]`, Type: plan.TypeIndex}, copied, ms(2310), true)
	for _, name := range []string{"pgbench_branches", "pgbench_tellers"} {
		add(ReportAction{Address: fmt.Sprintf(`database.bench.index["public"."%s_pkey"]`, name), Type: plan.TypeIndex}, copied, ms(9), false)
	}
	for i, name := range smallTables {
		add(ReportAction{Address: fmt.Sprintf(`database.bench.index["public"."%s_pkey"]`, name), Type: plan.TypeIndex}, copied, ms(10+i%9), false)
	}
	for _, name := range smallTables[5:13] {
		add(ReportAction{Address: fmt.Sprintf(`database.bench.constraint["public"."%s"."%s_customer_id_fkey"]`, name, name), Type: plan.TypeConstraint}, copied+ms(900), ms(25), false)
	}
	add(ReportAction{Address: "database.bench.sequences", Type: plan.TypeSequences}, copied, ms(40), false)
	t = add(ReportAction{Address: "database.bench.post_data", Type: plan.TypePostData}, t, ms(160), true)
	t = add(ReportAction{Address: "database.bench.analyze", Type: plan.TypeAnalyze}, t, ms(720), true)
	t = add(ReportAction{Address: "database.bench.verify", Type: plan.TypeVerify}, t, ms(1180), true)

	var sizeBytes, sizeRows int64
	for _, a := range p.actions {
		sizeBytes += a.Bytes
		sizeRows += a.Rows
	}
	return ReportData{
		Migration: "bench-rehearsal", Run: 5, Operation: "apply", Outcome: state.StatusSucceeded,
		StartedAt: reportStart, FinishedAt: reportStart.Add(t + ms(60)), GeneratedAt: reportStart.Add(t + time.Minute),
		PgferryVersion: "v0.9.0",
		Source:         state.Identity{Name: "source", Host: "10.0.0.5", Port: 5432, User: "migrator", Version: "15.10"},
		Target:         state.Identity{Name: "target", Host: "10.0.0.9", Port: 5432, User: "admin", Version: "17.2"},
		Jobs:           2,
		Validations: []state.Validation{
			{ID: "server_version", Level: "instance", Outcome: state.Succeeded, Message: "target 17.2 is not older than source 15.10"},
			{ID: "target_empty", Level: "instance", Outcome: state.Succeeded, Message: "no database of the migration exists on the target"},
			{ID: "extensions", Level: "database", Database: db, Outcome: state.Succeeded, Message: "every extension is available on the target"},
			{ID: "replica_identity", Level: "database", Database: db, Outcome: state.Warning, Message: "pgbench_history has no primary key", Objects: []string{`"public"."pgbench_history"`}},
		},
		Sizes:   ReportSizes{Databases: 1, Tables: 3 + len(smallTables) + 1, Bytes: sizeBytes, Rows: sizeRows},
		Phases:  phasesOf(p.actions),
		Actions: p.actions,
		Forecast: &ReportForecast{Expected: t - ms(300), Low: t - ms(1300), High: t + ms(900), Basis: "rehearsal", BasisRun: 3,
			CriticalPath: path},
		History: []ReportRun{
			{ID: 1, Operation: "apply", StartedAt: reportStart.Add(-4 * time.Hour), Duration: t + ms(900), Forecast: t + ms(3100), Outcome: state.StatusSucceeded},
			{ID: 2, Operation: "destroy", StartedAt: reportStart.Add(-3 * time.Hour), Duration: ms(800), Outcome: state.StatusSucceeded},
			{ID: 3, Operation: "apply", StartedAt: reportStart.Add(-2 * time.Hour), Duration: t + ms(200), Forecast: t + ms(800), Outcome: state.StatusSucceeded},
			{ID: 4, Operation: "cancel", StartedAt: reportStart.Add(-time.Hour), Duration: ms(700), Outcome: state.StatusSucceeded},
			{ID: 5, Operation: "apply", StartedAt: reportStart, Duration: t + ms(60), Forecast: t - ms(300), Outcome: state.StatusSucceeded},
		},
	}
}

func renderReport(t *testing.T, r ReportData) string {
	t.Helper()
	var b bytes.Buffer
	if err := Report(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReportGolden(t *testing.T) {
	golden(t, "report_small.html.golden", []byte(renderReport(t, smallReport())))
	var md bytes.Buffer
	if err := ReportMarkdown(&md, smallReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report_small.md.golden", md.Bytes())
}

var barRect = regexp.MustCompile(`<rect class="bar[ "]`)

// TestReportEscapes: names and messages never become markup.
func TestReportEscapes(t *testing.T) {
	r := smallReport()
	r.Migration = `<script>alert("m")</script>`
	r.Actions[5].Error = `</title><script>alert(1)</script>`
	out := renderReport(t, r)
	if strings.Contains(out, "<script") || strings.Contains(out, "<ird>") {
		t.Error("a name or an error reached the HTML unescaped")
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#34;m&#34;)&lt;/script&gt;") {
		t.Error("the migration's name is not shown escaped")
	}
	if got := len(barRect.FindAllString(out, -1)); got != len(r.Actions) {
		t.Errorf("%d bars, want %d", got, len(r.Actions))
	}
}

// TestReportSelfContained: nothing in the file can load anything.
func TestReportSelfContained(t *testing.T) {
	out := renderReport(t, pgbenchReport())
	for _, bad := range []string{"http:", "https:", "src=", "href=", "@import", "url(", "<link", "<script", "<iframe", "<img"} {
		if strings.Contains(out, bad) {
			t.Errorf("the report contains %q", bad)
		}
	}
	if !strings.Contains(out, `content="default-src 'none'; style-src 'unsafe-inline'"`) {
		t.Error("the report has no Content-Security-Policy forbidding loads")
	}
}

// TestReportScales: thousands of actions stay a few MB and the timeline's height is bounded by
// the jobs, not the actions.
func TestReportScales(t *testing.T) {
	const n, jobs = 6000, 8
	r := bigReport(n, jobs)
	start := time.Now()
	out := renderReport(t, r)
	t.Logf("%d actions: %.1f MB in %v", n, float64(len(out))/1e6, time.Since(start).Round(time.Millisecond))
	if len(out) > 6_000_000 {
		t.Errorf("the report of %d actions is %d bytes, want a few MB", n, len(out))
	}
	if got := len(barRect.FindAllString(out, -1)); got != n {
		t.Errorf("%d bars, want %d", got, n)
	}
	g := newGantt(&r)
	if len(g.Lanes) != jobs || g.Height != num(ganttTop+jobs*(ganttRowFor(jobs)+ganttLaneGap)+ganttAxis) {
		t.Errorf("%d lanes %s high, want %d lanes of one row each", len(g.Lanes), g.Height, jobs)
	}
}

// bigReport is a run of n small tables copied on jobs lanes, one after the other on each, every
// 97th on the critical path.
func bigReport(n, jobs int) ReportData {
	r := smallReport()
	r.Jobs, r.Actions, r.History = jobs, nil, nil
	at := make([]time.Duration, jobs)
	for i := range n {
		lane := i % jobs
		took := ms(5 + (i*37)%400)
		r.Actions = append(r.Actions, ReportAction{Address: plan.TableAddr("app", "public", fmt.Sprintf("events_%05d", i)),
			Type: plan.TypeTable, Kind: state.KindCreate, Database: "app", Lane: lane, Start: at[lane], End: at[lane] + took,
			Bytes: 81920, Rows: 1000, Critical: i%97 == 0})
		at[lane] += took
	}
	r.FinishedAt = r.StartedAt.Add(slicesMax(at))
	return r
}

func slicesMax(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// TestReportOverlapInLane: actions that overlap on one lane get their own rows instead of
// hiding each other.
func TestReportOverlapInLane(t *testing.T) {
	r := ReportData{Jobs: 1, StartedAt: reportStart, FinishedAt: reportStart.Add(time.Second), Actions: []ReportAction{
		{Address: "a", Type: plan.TypeTable, Start: 0, End: ms(800)},
		{Address: "b", Type: plan.TypeTablePart, Start: ms(100), End: ms(500)},
		{Address: "c", Type: plan.TypeTablePart, Start: ms(500), End: ms(900)},
	}}
	g := newGantt(&r)
	if g.Bars[0].Y == g.Bars[1].Y || g.Bars[1].Y != g.Bars[2].Y {
		t.Errorf("bars at y %s, %s, %s: want a second row for b and c only", g.Bars[0].Y, g.Bars[1].Y, g.Bars[2].Y)
	}
}

func TestReportTables(t *testing.T) {
	tables := reportTables(smallReport().Actions)
	if len(tables) != 2 {
		t.Fatalf("%d tables, want 2: %+v", len(tables), tables)
	}
	orders := tables[0]
	if orders.Address != plan.TableAddr("shop", "public", "orders") || orders.Parts != 2 || orders.Rows != 1_900_000 ||
		orders.Wall() != ms(2020) {
		t.Errorf("orders = %+v, want its two parts summed over 2.02s", orders)
	}
	if got := rate(orders.MBps()); got != "94.1" {
		t.Errorf("orders at %s MB/s, want 94.1", got)
	}
}

func TestTimeTicks(t *testing.T) {
	for _, c := range []struct {
		total time.Duration
		want  string
	}{
		{ms(3200), "0 500ms 1s 1.5s 2s 2.5s 3s"},
		{8 * time.Second, "0 1s 2s 3s 4s 5s 6s 7s 8s"},
		{95 * time.Second, "0 15s 30s 45s 1m 1m15s 1m30s"},
		{47 * time.Minute, "0 5m 10m 15m 20m 25m 30m 35m 40m 45m"},
		{0, "0"},
	} {
		var got []string
		for _, d := range timeTicks(c.total, 10) {
			got = append(got, tickLabel(d))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("ticks for %v = %q, want %q", c.total, strings.Join(got, " "), c.want)
		}
	}
}

var codeSpans = regexp.MustCompile("`+[^`]*`+")

// TestReportMarkdownBudget: a run of thousands of tables and hundreds of validations still makes
// a ticket under MarkdownLimit, says what it left out, and has no HTML outside code spans.
func TestReportMarkdownBudget(t *testing.T) {
	r := smallReport()
	r.Actions = nil
	for i := range 6000 {
		r.Actions = append(r.Actions, ReportAction{Address: plan.TableAddr("app", "public", fmt.Sprintf("events_%05d", i)),
			Type: plan.TypeTable, Kind: state.KindCreate, Database: "app", Lane: i % 2, Start: ms(i), End: ms(i + 50),
			Bytes: 81920, Rows: 1000, Critical: i%100 == 0})
	}
	for i := range 500 {
		r.Validations = append(r.Validations, state.Validation{ID: fmt.Sprintf("check_%d", i), Level: "database", Database: "app",
			Outcome: state.Warning, Message: strings.Repeat("a <b> | c\n", 30)})
	}
	var b bytes.Buffer
	if err := ReportMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if len(out) >= MarkdownLimit {
		t.Errorf("the markdown is %d bytes, want under %d", len(out), MarkdownLimit)
	}
	for _, want := range []string{"more checks: the HTML report lists them all", "more tables: the HTML report lists them all",
		"1. `database.app.table[\"public\".\"events_00000\"]` (table)", "51. … and 10 more", "#### History"} {
		if !strings.Contains(out, want) {
			t.Errorf("the markdown lacks %q", want)
		}
	}
	// A quote's leading "> " is Markdown, not a tag.
	if prose := codeSpans.ReplaceAllString(strings.ReplaceAll(out, "\n> ", "\n"), ""); strings.ContainsAny(prose, "<>") {
		i := strings.IndexAny(prose, "<>")
		t.Errorf("the markdown has HTML outside code: …%s…", prose[max(i-40, 0):min(i+40, len(prose))])
	}
}

// TestReportBareRun: a destroy with no action, forecast, validation or history still renders,
// saying so.
func TestReportBareRun(t *testing.T) {
	r := ReportData{Migration: "m", Run: 2, Operation: "destroy", Outcome: state.StatusSucceeded, StartedAt: reportStart,
		FinishedAt: reportStart.Add(ms(700)), Jobs: 4}
	out := renderReport(t, r)
	for _, want := range []string{"No validations were recorded for this run.", "This run copied no table.", "No runs recorded.",
		`<text class="lane-label" x="6" y="`} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(out, `id="forecast"`) || strings.Count(out, `class="lane`) != 2*4 {
		t.Error("want no forecast section and 4 empty lanes")
	}
	var md bytes.Buffer
	if err := ReportMarkdown(&md, r); err != nil || !strings.Contains(md.String(), "**✅ Succeeded** in 700ms") {
		t.Errorf("markdown: %v\n%s", err, md.String())
	}
}
