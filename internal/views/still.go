package views

import (
	"sync"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
)

// StillEvery is how long a running action may go without an event before the apply view reports
// it still running, as terraform prints "Still creating... [10s elapsed]": CI systems stop jobs
// that print nothing for long, and index builds, the schema, post-data, ANALYZE and verify report
// no progress of their own.
const StillEvery = 10 * time.Second

// still wraps apply's event stream: it passes every event on, and for an action that started and
// emitted nothing for every, it emits an apply_progress event marked Still (Rows and Bytes are
// its last progress, if any). Events reach emit one at a time.
type still struct {
	emit  func(apply.Event)
	every time.Duration
	mu    sync.Mutex
	// running are the actions started and not finished; closed is set by stop.
	running map[string]*runningAction
	closed  bool
}

// runningAction is what the still-running reports know of an action that started.
type runningAction struct {
	a           *plan.Action
	start, last time.Time // when it started, and when its last event was emitted
	rows, bytes int64     // its last progress
	timer       *time.Timer
}

// newStill wraps emit; every is the interval (0: StillEvery).
func newStill(emit func(apply.Event), every time.Duration) *still {
	if every <= 0 {
		every = StillEvery
	}
	return &still{emit: emit, every: every}
}

// event passes e on and follows the actions that run.
func (s *still) event(e apply.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.track(e)
	s.emit(e)
}

// track follows the actions that run, for the still-running reports. s.mu is held.
func (s *still) track(e apply.Event) {
	if e.Action == nil || s.closed {
		return
	}
	now := time.Now()
	switch e.Type {
	case apply.EventStart:
		if s.running == nil {
			s.running = map[string]*runningAction{}
		}
		if old := s.running[e.Address]; old != nil {
			old.timer.Stop()
		}
		ra := &runningAction{a: e.Action, start: now, last: now}
		addr := e.Address
		// The callback takes s.mu, held here until ra.timer is set.
		ra.timer = time.AfterFunc(s.every, func() { s.report(addr, ra) })
		s.running[addr] = ra
	case apply.EventProgress:
		if ra := s.running[e.Address]; ra != nil {
			ra.last, ra.rows, ra.bytes = now, e.Rows, e.Bytes
		}
	case apply.EventComplete, apply.EventErrored, apply.EventInterrupted:
		if ra := s.running[e.Address]; ra != nil {
			ra.timer.Stop()
			delete(s.running, e.Address)
		}
	}
}

// report emits an apply_progress event marked Still for an action that emitted nothing for
// every, and schedules the next check.
func (s *still) report(addr string, ra *runningAction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.running[addr] != ra {
		return // finished (or restarted) meanwhile
	}
	now := time.Now()
	if wait := ra.last.Add(s.every).Sub(now); wait > 0 {
		ra.timer.Reset(wait) // it reported progress of its own meanwhile
		return
	}
	ra.last = now
	ra.timer.Reset(s.every)
	s.emit(apply.Event{Type: apply.EventProgress, Address: addr, Action: ra.a, Elapsed: now.Sub(ra.start), Rows: ra.rows, Bytes: ra.bytes, Still: true})
}

// stop ends the still-running reports: nothing is emitted for an action after apply.Run returns.
func (s *still) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, ra := range s.running {
		ra.timer.Stop()
	}
	s.running = nil
}
