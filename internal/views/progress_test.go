package views

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// progressPlan: a database with one 100 MiB table and its 20 MiB index, a small table, schema,
// post-data, analyze and verify.
func progressPlan() *plan.Plan {
	const mib = 1 << 20
	return &plan.Plan{Actions: []*plan.Action{
		{Address: "database.app", Type: plan.TypeDatabase, Database: "app"},
		{Address: "database.app.schema", Type: plan.TypeSchema, Database: "app"},
		{Address: "big", Type: plan.TypeTable, Database: "app", Schema: "public", Name: "big", BytesEstimate: 100 * mib, RowsEstimate: 1_000_000},
		{Address: "small", Type: plan.TypeTable, Database: "app", Schema: "public", Name: "small", BytesEstimate: 8192, RowsEstimate: 10},
		{Address: "big_pkey", Type: plan.TypeIndex, Database: "app", Schema: "public", Table: "big", BytesEstimate: 20 * mib},
		{Address: "fk", Type: plan.TypeConstraint, Database: "app", Schema: "public", Table: "big"},
		{Address: "post", Type: plan.TypePostData, Database: "app"},
		{Address: "analyze", Type: plan.TypeAnalyze, Database: "app"},
		{Address: "verify", Type: plan.TypeVerify, Database: "app"},
	}}
}

func TestActionWeights(t *testing.T) {
	const mib = 1 << 20
	p := progressPlan()
	w := actionWeights(p, "checksum")
	want := map[string]float64{
		"database.app": weightSmall, "database.app.schema": weightSchema,
		"big": 100 * mib, "small": 8192, "big_pkey": 20 * mib,
		"fk":   25 * mib, // a quarter of its table: one scan
		"post": weightPost, "analyze": float64(100*mib+8192) / 10, "verify": float64(100*mib+8192) / 2,
	}
	for addr, x := range want {
		if w[addr] != x {
			t.Errorf("weight of %s = %v, want %v", addr, w[addr], x)
		}
	}
	if c := actionWeights(p, "count"); c["verify"] != float64(100*mib+8192)/20 {
		t.Errorf("count verify weight = %v", c["verify"])
	}
	// A split table's own action only empties it: its parts carry the weight.
	split := &plan.Plan{Actions: []*plan.Action{{Address: "t", Type: plan.TypeTable, Parts: 2, BytesEstimate: 100 * mib},
		{Address: "t.part[1]", Type: plan.TypeTablePart, Part: 1, Parts: 2, BytesEstimate: 50 * mib}}}
	if sw := actionWeights(split, "none"); sw["t"] != weightSmall || sw["t.part[1]"] != 50*mib {
		t.Errorf("split weights = %v", sw)
	}
}

func TestProgressOverAllPhases(t *testing.T) {
	const mib = 1 << 20
	p := progressPlan()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := NewProgress(p, "checksum")
	g.clock = func() time.Time { return now }
	act := map[string]*plan.Action{}
	for _, a := range p.Actions {
		act[a.Address] = a
	}
	ev := func(typ apply.EventType, addr string, rows, bytes int64) {
		g.Event(apply.Event{Type: typ, Address: addr, Action: act[addr], Rows: rows, Bytes: bytes})
	}
	for _, a := range []string{"database.app", "database.app.schema"} {
		ev("apply_start", a, 0, 0)
		ev("apply_complete", a, 0, 0)
	}
	ev("apply_start", "big", 0, 0)
	now = now.Add(time.Second)
	ev("apply_progress", "big", 0, 50*mib)
	o := g.Overall()
	// total = 64K + 4M + 100M + 8K + 20M + 25M + 2M + ~10M + ~50M
	if o.Percent < 20 || o.Percent > 30 || o.Bytes != 50*mib {
		t.Fatalf("half the big table copied: %+v", o)
	}
	if o.ETA != 0 {
		t.Fatalf("the first bytes of data: no rate yet, got ETA %v at %.1f%%", o.ETA, o.Percent)
	}
	now = now.Add(time.Second)
	ev("apply_progress", "big", 0, 75*mib)
	if o := g.Overall(); o.ETA < 3*time.Second || o.ETA > 6*time.Second {
		t.Fatalf("25 MiB more in 1 s, about 11%%: ETA %v at %.1f%%, want about 5s", o.ETA, o.Percent)
	}
	if r := g.Running(); len(r) != 1 || r[0].Address != "big" || r[0].Percent != 75 {
		t.Fatalf("running = %+v", r)
	}
	// The estimate was low: the table is never 100% before it says it is done.
	ev("apply_progress", "big", 0, 150*mib)
	if tp, _ := g.Table("big"); tp.Percent != 99 {
		t.Fatalf("copy past its estimate: %+v", tp)
	}
	now = now.Add(time.Second)
	ev("apply_complete", "big", 1_000_000, 150*mib)
	if r := g.Running(); len(r) != 0 {
		t.Fatalf("a finished copy still running: %+v", r)
	}
	afterData := g.Overall().Percent
	// Index, FK, post-data and analyze move the bar; it is short of 100% until verify is done.
	prev := afterData
	for _, a := range []string{"small", "big_pkey", "fk", "post", "analyze"} {
		ev("apply_start", a, 0, 0)
		ev("apply_complete", a, 0, 0)
		if pc := g.Overall().Percent; pc <= prev {
			t.Fatalf("%s done: %.1f%%, not above %.1f%%", a, pc, prev)
		} else {
			prev = pc
		}
	}
	if prev >= 100 || prev < 75 {
		t.Fatalf("all but verify: %.1f%%", prev)
	}
	ev("apply_start", "verify", 0, 0)
	ev("apply_complete", "verify", 0, 0)
	if o := g.Overall(); o.Percent != 100 || o.ETA != 0 {
		t.Fatalf("all done: %+v", o)
	}
}

func TestETA(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		base, percent float64
		since         time.Duration
		want          time.Duration
	}{
		{0, 0, 10 * time.Second, 0},                 // nothing done: no rate
		{0, 1, time.Second, 0},                      // 1 s and 1%: not measured yet (the "12m4s" of a 20 s copy)
		{0, 4, 2 * time.Second, 0},                  // still under 3 s and 5%
		{0, 5, time.Second, 19 * time.Second},       // 5% in 1 s: 19 s left
		{0, 10, 3 * time.Second, 27 * time.Second},  // measured for 3 s
		{0, 50, 10 * time.Second, 10 * time.Second}, // half in 10 s
		{4, 6, 2 * time.Second, 0},                  // the schema's 4% before the data are not its rate
		{4, 10, 3 * time.Second, 45 * time.Second},  // 6% in 3 s: 90% at 2% a second
		{0, 100, 10 * time.Second, 0},               // done
	} {
		var first time.Time
		if c.since > 0 {
			first = t0
		}
		if got := eta(c.base, c.percent, first, t0.Add(c.since)); got != c.want {
			t.Errorf("eta(from %v%% to %v%% in %v) = %v, want %v", c.base, c.percent, c.since, got, c.want)
		}
	}
	if got := eta(0, 50, time.Time{}, t0); got != 0 {
		t.Errorf("no work reported yet: ETA %v", got)
	}
}

func TestLineFigures(t *testing.T) {
	const mib = 1 << 20
	got := TableLine(TableProgress{Bytes: 25 * mib, BytesEstimate: 100 * mib, RowsEstimate: 1_000_000}, 5*time.Second)
	for _, want := range []string{"25.0 MiB / 100.0 MiB", "~250.0k / 1.0M rows", "5.0 MiB/s"} {
		if !strings.Contains(got, want) {
			t.Errorf("table line %q lacks %q", got, want)
		}
	}
	if got := OverallLine(Overall{Percent: 42.7, Bytes: mib, BytesEstimate: 2 * mib, Elapsed: 3 * time.Second}); strings.Contains(got, "ETA") || !strings.HasPrefix(got, " 42%") {
		t.Errorf("overall line without a measured rate: %q", got)
	}
	if got := OverallLine(Overall{Percent: 50, ETA: 7 * time.Second}); !strings.Contains(got, "ETA 7s") {
		t.Errorf("overall line with a rate: %q", got)
	}
}

func TestJSONProgressAndWarnings(t *testing.T) {
	p := progressPlan()
	p.Validations = []state.Validation{{ID: "ok", Outcome: "Succeeded", Message: "fine"},
		{ID: "split_pg13", Outcome: "Warning", Database: "app", Message: "tables are copied whole on PostgreSQL 13", Objects: []string{"public.big"}}}
	var buf bytes.Buffer
	j := &JSONLines{W: &buf, Prog: NewProgress(p, "checksum")}
	j.Warnings(p)
	j.Event(apply.Event{Type: "apply_start", Address: "big", Action: p.Actions[2]})
	j.Event(apply.Event{Type: "apply_progress", Address: "big", Action: p.Actions[2], Bytes: 10 << 20})
	j.ProgressLine()
	j.Prog.Finished()
	j.ProgressLine()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	d := lines[0]["diagnostic"].(map[string]any)
	if lines[0]["type"] != "diagnostic" || d["severity"] != "warning" || d["database"] != "app" || d["detail"] != "public.big" {
		t.Errorf("warning diagnostic: %v", lines[0])
	}
	tb := lines[2]["table"].(map[string]any)
	if lines[2]["type"] != "apply_progress" || tb["bytes"] != float64(10<<20) || tb["percent"] != float64(10) || tb["rows_estimate"] != float64(1_000_000) {
		t.Errorf("table progress: %v", lines[2])
	}
	if o := lines[3]["overall"].(map[string]any); o["bytes"] != float64(10<<20) || o["percent"].(float64) <= 0 || len(lines[3]["tables"].([]any)) != 1 {
		t.Errorf("overall progress: %v", lines[3])
	}
	if o := lines[4]["overall"].(map[string]any); o["percent"] != float64(100) || len(lines[4]["tables"].([]any)) != 0 {
		t.Errorf("final progress: %v", lines[4])
	}
}
