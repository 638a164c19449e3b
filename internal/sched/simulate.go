package sched

import (
	"container/heap"
	"fmt"
	"time"
)

// SimOptions configure Simulate.
type SimOptions struct {
	// Jobs is how many tasks run at once, and Extra the lanes beside them for Small tasks, as for Run.
	Jobs, Extra int
	// GateSteps is the gate's progress when it finishes (pre-data: its number of chunks); its
	// progress is taken to grow evenly over its duration. 0: no task starts early.
	GateSteps int
	// ConfirmDelay is how long a finished task waits for its confirmation (the state write that
	// releases its dependents); 0: none.
	ConfirmDelay time.Duration
}

// Slot is where and when a task ran in a simulation, as offsets from the start.
type Slot struct {
	Start, End time.Duration
	// Lane is the lane (0..Jobs+Extra-1) that ran it: the lowest free one when it started.
	Lane int
	// After is the task whose end (or, for an early start, whose progress) let this one start
	// when it did: the dependency confirmed last, the gate, or the task that freed its lane;
	// -1 when it could start at once.
	After int
}

// Timeline is a simulated run.
type Timeline struct {
	// Slots holds each task's slot, by task index.
	Slots []Slot
	// Finish is when the last task's completion was confirmed.
	Finish time.Duration
	// Critical is the chain of tasks that determined Finish, first to last: the last task to
	// finish, the task it started after, and so on back to one that could start at once.
	Critical []int
}

// Simulate replays the tasks through Run's rules (ready set, ranks, Jobs lanes, early starts,
// held and confirmed completions) on a virtual clock, each task taking durations[i], and returns
// the timeline. Nothing runs and nothing sleeps.
func Simulate(tasks []Task, durations []time.Duration, opt SimOptions) (*Timeline, error) {
	if len(durations) != len(tasks) {
		return nil, fmt.Errorf("%d durations for %d tasks", len(durations), len(tasks))
	}
	c, err := newCore(tasks, opt.Jobs, opt.Extra)
	if err != nil {
		return nil, err
	}
	s := &sim{c: c, durations: durations, opt: opt, lanes: make([]bool, c.jobs+c.extra),
		tl: &Timeline{Slots: make([]Slot, len(tasks))}, readyAt: make([]time.Duration, len(tasks)),
		cause: make([]int, len(tasks)), freedBy: -1}
	for i := range tasks {
		s.cause[i] = -1
		s.tl.Slots[i] = Slot{Start: -1, End: -1, Lane: -1, After: -1}
	}
	for !c.done() {
		s.dispatch()
		if err := c.stuck(); err != nil {
			return nil, err
		}
		if s.events.Len() == 0 {
			break
		}
		s.step(heap.Pop(&s.events).(event))
	}
	s.tl.Critical = s.critical()
	return s.tl, nil
}

// sim is one Simulate: the core driven by a queue of future events.
type sim struct {
	c         *core
	durations []time.Duration
	opt       SimOptions
	tl        *Timeline
	now       time.Duration
	lanes     []bool // busy
	events    eventQueue
	seq       int
	readyAt   []time.Duration // when a task became ready
	cause     []int           // the task whose end made it ready
	freedBy   int             // the task whose end freed a lane now
	lastEnd   int             // the task confirmed last
}

type eventKind int

const (
	evProgress eventKind = iota // the gate reached n
	evFinish                    // task i ended
	evConfirm                   // batch is confirmed; trigger is the task whose end queued it
)

type event struct {
	at      time.Duration
	seq     int
	kind    eventKind
	i, n    int
	batch   []int
	trigger int
}

func (s *sim) push(e event) {
	e.seq = s.seq
	s.seq++
	heap.Push(&s.events, e)
}

// ready notes that tasks became ready now because of task by.
func (s *sim) ready(made []int, by int) {
	for _, k := range made {
		s.readyAt[k], s.cause[k] = s.now, by
	}
}

// dispatch starts every task the core lets start now.
func (s *sim) dispatch() {
	for {
		i := s.c.next()
		if i < 0 {
			return
		}
		s.c.start(i)
		lane := 0
		for s.lanes[lane] {
			lane++
		}
		s.lanes[lane] = true
		after := s.cause[i]
		if s.readyAt[i] < s.now && s.freedBy >= 0 {
			after = s.freedBy // it was ready, and waited for a lane
		}
		end := s.now + s.durations[i]
		s.tl.Slots[i] = Slot{Start: s.now, End: end, Lane: lane, After: after}
		if s.c.tasks[i].Gate && s.opt.GateSteps > 0 {
			s.gateProgress(i, end)
		}
		s.push(event{at: end, kind: evFinish, i: i})
	}
}

// gateProgress queues the progress the gate, started now, reaches before it ends: one event per
// Early value of the tasks waiting for it.
func (s *sim) gateProgress(gate int, end time.Duration) {
	last := 0
	for _, k := range s.c.early {
		n := s.c.tasks[k].Early
		if n == last || n > s.opt.GateSteps {
			continue
		}
		last = n
		at := s.now + (end-s.now)*time.Duration(n)/time.Duration(s.opt.GateSteps)
		s.push(event{at: at, kind: evProgress, i: gate, n: n})
	}
}

func (s *sim) step(e event) {
	s.now = e.at
	switch e.kind {
	case evProgress:
		made, _ := s.c.progress(e.n)
		s.ready(made, e.i)
	case evFinish:
		s.lanes[s.tl.Slots[e.i].Lane] = false
		s.freedBy = e.i
		batch, made := s.c.finish(e.i, false)
		s.ready(made, e.i)
		switch {
		case len(batch) == 0:
		case s.opt.ConfirmDelay == 0:
			s.confirm(batch, e.i) // as Run confirms without a Confirmer: before anything else starts
		default:
			s.push(event{at: s.now + s.opt.ConfirmDelay, kind: evConfirm, batch: batch, trigger: e.i})
		}
	case evConfirm:
		s.confirm(e.batch, e.trigger)
	}
}

// confirm confirms a batch queued when trigger ended.
func (s *sim) confirm(batch []int, trigger int) {
	s.ready(s.c.confirm(batch), trigger)
	s.tl.Finish, s.lastEnd = s.now, trigger
}

// critical walks back from the task confirmed last through the tasks each started after.
func (s *sim) critical() []int {
	if len(s.tl.Slots) == 0 {
		return nil
	}
	var chain []int
	for i := s.lastEnd; i >= 0; i = s.tl.Slots[i].After {
		chain = append(chain, i)
	}
	for x, y := 0, len(chain)-1; x < y; x, y = x+1, y-1 {
		chain[x], chain[y] = chain[y], chain[x]
	}
	return chain
}

// eventQueue orders events by time, then by the order they were queued.
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(x, y int) bool {
	if q[x].at != q[y].at {
		return q[x].at < q[y].at
	}
	return q[x].seq < q[y].seq
}
func (q eventQueue) Swap(x, y int) { q[x], q[y] = q[y], q[x] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
