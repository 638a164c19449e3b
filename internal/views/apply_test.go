package views

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newApplier(w *bytes.Buffer) (*Applier, *fakeClock) {
	c := &fakeClock{t: planTime}
	return &Applier{W: w, clock: c.now}, c
}

func tableAction(db, name string) *plan.Action {
	return &plan.Action{Address: plan.TableAddr(db, "public", name), Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: name}
}

// complete feeds the start and the completion of a, which took d.
func complete(v *Applier, c *fakeClock, a *plan.Action, d time.Duration, rows, bytes int64) {
	v.Event(apply.Event{Type: "apply_start", Address: a.Address, Action: a})
	c.add(d)
	v.Event(apply.Event{Type: "apply_complete", Address: a.Address, Action: a, Elapsed: d, Rows: rows, Bytes: bytes})
}

// TestApplierTimingFew: with at most 20 tables, the closing table lists every one, the slowest
// first, and the parts of a split table as one table (its wall clock, rows and bytes summed).
func TestApplierTimingFew(t *testing.T) {
	var out bytes.Buffer
	v, c := newApplier(&out)
	complete(v, c, tableAction("app", "small"), 40*time.Millisecond, 10, 2048)
	complete(v, c, tableAction("app", "orders"), 3200*time.Millisecond, 1_200_000, 180*mib)
	big := tableAction("app", "events")
	big.Parts = 2
	v.Event(apply.Event{Type: "apply_start", Address: big.Address, Action: big})
	p1 := &plan.Action{Address: plan.TablePartAddr("app", "public", "events", 1), Type: plan.TypeTablePart, Kind: plan.Create,
		Database: "app", Schema: "public", Name: "events", Part: 1, Parts: 2}
	p2 := *p1
	p2.Address, p2.Part = plan.TablePartAddr("app", "public", "events", 2), 2
	v.Event(apply.Event{Type: "apply_start", Address: p1.Address, Action: p1})
	c.add(time.Second)
	v.Event(apply.Event{Type: "apply_start", Address: p2.Address, Action: &p2})
	c.add(4 * time.Second)
	v.Event(apply.Event{Type: "apply_complete", Address: p1.Address, Action: p1, Elapsed: 5 * time.Second, Rows: 500_000, Bytes: 60 * mib})
	c.add(time.Second)
	v.Event(apply.Event{Type: "apply_complete", Address: p2.Address, Action: &p2, Elapsed: 5 * time.Second, Rows: 400_000, Bytes: 50 * mib})
	v.Event(apply.Event{Type: "apply_complete", Address: big.Address, Action: big, Elapsed: 6 * time.Second})
	idx := &plan.Action{Address: `database.app.index["public"."orders_pkey"]`, Type: plan.TypeIndex, Kind: plan.Create, Database: "app"}
	complete(v, c, idx, 2*time.Second, 0, 0)
	v.Finish(12*time.Second, nil)
	golden(t, "apply_timing_few.golden", out.Bytes())
}

// TestApplierTimingMany: with more than 20 tables, the 20 slowest and how many more there are.
func TestApplierTimingMany(t *testing.T) {
	var out bytes.Buffer
	v, c := newApplier(&out)
	for i := 1; i <= 27; i++ {
		complete(v, c, tableAction("many", fmt.Sprintf("t%03d", i)), time.Duration(i)*10*time.Millisecond, int64(i)*100, int64(i)*8192)
	}
	v.Finish(3*time.Second, nil)
	golden(t, "apply_timing_many.golden", out.Bytes())
}

// TestApplierStill: apply's Still events (actions without progress of their own) are printed
// as terraform's "Still creating... [10s elapsed]", each one; a copy's own progress every 10 s
// at most, with its rate over the elapsed time (large objects too).
func TestApplierStill(t *testing.T) {
	var out bytes.Buffer
	v, c := newApplier(&out)
	idx := &plan.Action{Address: `database.app.index["public"."t_pkey"]`, Type: plan.TypeIndex, Kind: plan.Create, Database: "app"}
	v.Event(apply.Event{Type: "apply_start", Address: idx.Address, Action: idx})
	for i := 1; i <= 2; i++ {
		c.add(10 * time.Second)
		v.Event(apply.Event{Type: "apply_progress", Address: idx.Address, Action: idx, Elapsed: time.Duration(i) * 10 * time.Second, Still: true})
	}
	lo := &plan.Action{Address: "database.app.large_objects", Type: plan.TypeLargeObj, Kind: plan.Create, Database: "app"}
	v.Event(apply.Event{Type: "apply_start", Address: lo.Address, Action: lo})
	c.add(2 * time.Second)
	v.Event(apply.Event{Type: "apply_progress", Address: lo.Address, Action: lo, Elapsed: 2 * time.Second, Rows: 3, Bytes: 4 * mib})
	c.add(8 * time.Second)
	v.Event(apply.Event{Type: "apply_progress", Address: lo.Address, Action: lo, Elapsed: 10 * time.Second, Rows: 9, Bytes: 20 * mib})
	want := `database.app.index["public"."t_pkey"]: Creating...
database.app.index["public"."t_pkey"]: Still creating... [10s elapsed]
database.app.index["public"."t_pkey"]: Still creating... [20s elapsed]
database.app.large_objects: Creating...
database.app.large_objects: Still creating... [10s elapsed, 20.0 MiB, 2.0 MiB/s]
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}

	var js bytes.Buffer
	j := &JSONLines{W: &js}
	j.Event(apply.Event{Type: "apply_progress", Address: idx.Address, Action: idx, Elapsed: 10*time.Second + 3*time.Millisecond, Still: true})
	for _, s := range []string{`"type":"apply_progress"`, `"@message":"database.app.index[\"public\".\"t_pkey\"]: Still creating... [10s elapsed]"`,
		`"elapsed_seconds":10.003`, `"addr":"database.app.index[\"public\".\"t_pkey\"]"`} {
		if !bytes.Contains(js.Bytes(), []byte(s)) {
			t.Errorf("JSON event lacks %s:\n%s", s, js.String())
		}
	}
}

// TestApplyInterrupted: an action stopped by Ctrl-C is "Interrupted after", never an error, in
// the human view and in --json (a warning); the interrupted copy counts in no total.
func TestApplyInterrupted(t *testing.T) {
	var out bytes.Buffer
	v, c := newApplier(&out)
	a := tableAction("app", "big")
	v.Event(apply.Event{Type: "apply_start", Address: a.Address, Action: a})
	c.add(2 * time.Second)
	v.Event(apply.Event{Type: "apply_interrupted", Address: a.Address, Action: a, Elapsed: 2 * time.Second, Rows: 10, Bytes: 100})
	v.Finish(2*time.Second, fmt.Errorf("context canceled"))
	got := out.String()
	if want := `database.app.table["public"."big"]: Interrupted after 2s`; !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Errorf("human view lacks %q:\n%s", want, got)
	}
	for _, not := range []string{"Error", "context canceled", "Apply complete", "Time per table"} {
		if bytes.Contains(out.Bytes(), []byte(not)) {
			t.Errorf("human view says %q:\n%s", not, got)
		}
	}

	var js bytes.Buffer
	(&JSONLines{W: &js}).Event(apply.Event{Type: "apply_interrupted", Address: a.Address, Action: a, Elapsed: 2 * time.Second})
	for _, want := range []string{`"@level":"warn"`, `"type":"apply_interrupted"`, `Interrupted after 2s`, `"addr":"database.app.table[\"public\".\"big\"]"`} {
		if !bytes.Contains(js.Bytes(), []byte(want)) {
			t.Errorf("--json lacks %s:\n%s", want, js.String())
		}
	}
}

// TestApplierSlowestKept: tables finishing in any order, some as slow as others, leave the 20
// slowest in order (ties by address), as sorting them all would.
func TestApplierSlowestKept(t *testing.T) {
	var out bytes.Buffer
	v, c := newApplier(&out)
	var all []*tableTiming
	for i := range 60 {
		d := time.Duration((i*37)%23) * time.Millisecond // shuffled, with ties
		a := tableAction("app", fmt.Sprintf("t%02d", i))
		complete(v, c, a, d, 1, 1)
		all = append(all, &tableTiming{addr: a.Address, start: c.t.Add(-d), end: c.t})
	}
	sort.Slice(all, func(i, j int) bool { return slowestFirst(all[i], all[j]) })
	if len(v.slowest) != tablesListed {
		t.Fatalf("%d kept", len(v.slowest))
	}
	for i, tt := range v.slowest {
		if tt.addr != all[i].addr {
			t.Fatalf("slowest[%d] = %s, want %s", i, tt.addr, all[i].addr)
		}
	}
}
