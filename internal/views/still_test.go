package views

import (
	"sync"
	"testing"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
)

// events collects what the still wrapper emits.
type events struct {
	mu  sync.Mutex
	all []apply.Event
}

func (e *events) emit(ev apply.Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

// still returns the Still events for addr.
func (e *events) still(addr string) []apply.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []apply.Event
	for _, ev := range e.all {
		if ev.Still && ev.Address == addr {
			out = append(out, ev)
		}
	}
	return out
}

// TestStillReports: an action that emits nothing gets an apply_progress event marked Still every
// interval, with its elapsed time; one that reports progress of its own gets none while it does,
// then one carrying its last progress; none after an action finished or after Run ended.
func TestStillReports(t *testing.T) {
	const every = 200 * time.Millisecond
	var got events
	r := newStill(got.emit, every)
	idx := &plan.Action{Address: `database.app.index["public"."t_pkey"]`, Type: plan.TypeIndex, Kind: plan.Create}
	tbl := &plan.Action{Address: `database.app.table["public"."t"]`, Type: plan.TypeTable, Kind: plan.Create}
	r.event(apply.Event{Type: apply.EventStart, Address: idx.Address, Action: idx})
	r.event(apply.Event{Type: apply.EventStart, Address: tbl.Address, Action: tbl})
	// The copy reports progress every 10ms for 2.5 intervals.
	var bytes int64
	for end := time.Now().Add(every * 5 / 2); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		bytes += 100
		r.event(apply.Event{Type: apply.EventProgress, Address: tbl.Address, Action: tbl, Rows: bytes / 10, Bytes: bytes})
	}
	if s := got.still(tbl.Address); len(s) != 0 {
		t.Errorf("a copy reporting its progress got %d Still event(s)", len(s))
	}
	s := got.still(idx.Address)
	if len(s) < 2 {
		t.Fatalf("an index build silent for 2.5 intervals got %d Still event(s), want 2", len(s))
	}
	for i, ev := range s {
		if ev.Type != "apply_progress" || ev.Action != idx || ev.Elapsed < time.Duration(i+1)*every {
			t.Errorf("Still event %d: %+v; want apply_progress of the index with at least %s elapsed", i, ev, time.Duration(i+1)*every)
		}
	}
	// The copy goes quiet: a Still event with its last progress.
	time.Sleep(every * 3 / 2)
	if s := got.still(tbl.Address); len(s) == 0 || s[0].Bytes != bytes || s[0].Rows != bytes/10 {
		t.Errorf("a quiet copy: Still events %+v; want one with its last progress (%d bytes)", s, bytes)
	}
	r.event(apply.Event{Type: apply.EventComplete, Address: idx.Address, Action: idx})
	n, m := len(got.still(idx.Address)), len(got.still(tbl.Address))
	// While the run goes on (the copy still running and reported), the finished index gets none.
	time.Sleep(every * 3 / 2)
	if len(got.still(idx.Address)) != n {
		t.Error("a finished action got a Still event")
	}
	if len(got.still(tbl.Address)) == m {
		t.Error("the copy still running got no Still event meanwhile")
	}
	r.stop()
	m = len(got.still(tbl.Address))
	time.Sleep(every * 3 / 2)
	if len(got.still(tbl.Address)) != m {
		t.Error("a Still event after Run ended")
	}
}
