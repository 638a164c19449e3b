package apply

import (
	"time"

	"github.com/pgferry/pgferry/plan"
)

// StillEvery is how long a running action may go without an event before apply reports it still
// running, as terraform prints "Still creating... [10s elapsed]": CI systems stop jobs that print
// nothing for long, and index builds, the schema, post-data, ANALYZE and verify report no progress
// of their own.
const StillEvery = 10 * time.Second

// runningAction is what the still-running reports know of an action that started.
type runningAction struct {
	a           *plan.Action
	start, last time.Time // when it started, and when its last event was emitted
	rows, bytes int64     // its last progress
	timer       *time.Timer
}

func (r *Runner) stillEvery() time.Duration {
	if r.still > 0 {
		return r.still
	}
	return StillEvery
}

// track follows the actions that run, for the still-running reports. r.emitMu is held.
func (r *Runner) track(e Event) {
	if e.Action == nil || r.stillClosed {
		return
	}
	now := time.Now()
	switch e.Type {
	case EventStart:
		if r.running == nil {
			r.running = map[string]*runningAction{}
		}
		if old := r.running[e.Address]; old != nil {
			old.timer.Stop()
		}
		ra := &runningAction{a: e.Action, start: now, last: now}
		addr := e.Address
		// The callback takes r.emitMu, held here until ra.timer is set.
		ra.timer = time.AfterFunc(r.stillEvery(), func() { r.reportStill(addr, ra) })
		r.running[addr] = ra
	case EventProgress:
		if ra := r.running[e.Address]; ra != nil {
			ra.last, ra.rows, ra.bytes = now, e.Rows, e.Bytes
		}
	case EventComplete, EventErrored, EventInterrupted:
		if ra := r.running[e.Address]; ra != nil {
			ra.timer.Stop()
			delete(r.running, e.Address)
		}
	}
}

// reportStill emits an apply_progress event marked Still for an action that emitted nothing for
// stillEvery, and schedules the next check.
func (r *Runner) reportStill(addr string, ra *runningAction) {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	if r.stillClosed || r.running[addr] != ra {
		return // finished (or restarted) meanwhile
	}
	now := time.Now()
	if wait := ra.last.Add(r.stillEvery()).Sub(now); wait > 0 {
		ra.timer.Reset(wait) // it reported progress of its own meanwhile
		return
	}
	ra.last = now
	ra.timer.Reset(r.stillEvery())
	r.opt.Emit(Event{Type: EventProgress, Address: addr, Action: ra.a, Elapsed: now.Sub(ra.start), Rows: ra.rows, Bytes: ra.bytes, Still: true})
}

// stopStill ends the still-running reports: nothing is emitted for an action after Run returns.
func (r *Runner) stopStill() {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.stillClosed = true
	for _, ra := range r.running {
		ra.timer.Stop()
	}
	r.running = nil
}
