package sched

import (
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
	// Locks are the table locks each task takes (by task index; nil or shorter: none), held from
	// the moment it asks for them until it ends, as a transaction holds them. A task that asks for
	// a lock conflicting with one held or asked for before it waits on its lane until that one is
	// released (the server's queue: first come, first served), then takes its duration.
	Locks [][]Lock
	// Aside is work on a connection of its own beside the lanes (apply's analyze lane); nil: none.
	Aside *Aside
}

// Aside is a connection beside the lanes that runs Items as they become ready: when idle, it takes
// the ready items (in the order they became ready, at most Batch of them) and runs them one after
// another, each waiting for its locks as a task does. The task Stop, when it starts, stops the connection: it waits
// until the items the connection took are done, and runs the items it never took itself on Jobs
// connections (their durations over Jobs are added to its own).
type Aside struct {
	Items []AsideItem
	// Stop is the task whose start stops the connection; -1: none (what the connection does after
	// the last task is not waited for).
	Stop int
	// Batch is the most items the connection takes at once (one statement); 0: no limit.
	Batch int
}

// AsideItem is one piece of Aside's work.
type AsideItem struct {
	// After are the tasks whose end makes the item ready; a task that started early counts once
	// its completion is confirmed with the gate's (apply holds back what ran beside pre-data).
	After    []int
	Duration time.Duration
	Locks    []Lock
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
	// Aside holds the slots of SimOptions.Aside's items, by item (Lane: Jobs+Extra, After: the
	// task it waited for a lock for, or -1); an item the Stop task took over, or that the
	// connection had not reached when the run ended, has Start and End -1.
	Aside []Slot
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
		cause: make([]int, len(tasks)), freedBy: -1, locks: map[string]*held{}}
	for i := range tasks {
		s.cause[i] = -1
		s.tl.Slots[i] = Slot{Start: -1, End: -1, Lane: -1, After: -1}
	}
	if err := s.newAside(); err != nil {
		return nil, err
	}
	for !c.done() {
		s.dispatch()
		if err := c.stuck(); err != nil {
			return nil, err
		}
		if s.events.Len() == 0 {
			break
		}
		s.step(s.events.pop())
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
	gates     []gateRun       // the gates' progress still to come (evProgress events' aux)
	batches   [][]int         // the batches evConfirm events confirm (their aux); nil: free
	freeBatch []int32         // free entries of batches
	readyAt   []time.Duration // when a task became ready
	cause     []int           // the task whose end made it ready
	freedBy   int             // the task whose end freed a lane now
	lastEnd   int             // the task confirmed last
	locks     map[string]*held
	aside     *asideLane // nil without SimOptions.Aside
}

type eventKind uint8

const (
	evProgress eventKind = iota // the gate reached n
	evFinish                    // task i ended
	evConfirm                   // batch is confirmed; trigger is the task whose end queued it
	evAside                     // the aside connection finished item i
)

// event is one entry of the queue, kept small (a plan of 20,000 tables pushes some 60,000):
// a confirmation's batch lies in sim.batches, a gate's progress beyond the next step in sim.gates.
type event struct {
	at   time.Duration
	seq  int
	i, n int32 // evConfirm: i is the task whose end queued it
	aux  int32 // evProgress: the gateRun; evConfirm: the batch
	kind eventKind
}

func (s *sim) push(e event) {
	e.seq = s.seq
	s.seq++
	s.events.push(e)
}

// gateRun is the progress a running gate has still to make: the steps of early (distinct Early
// values up to GateSteps, ascending) from pos on, each reached at its share of the gate's time.
// Only the next step is queued; each queues the one after it when it fires, with the sequence
// number reserved for it when the gate started, so events pop in the same order as if all had
// been queued at once.
type gateRun struct {
	early      []int // the early tasks when the gate started, by Early
	pos        int
	start, end time.Duration
	seq        int // the sequence number of the step at pos
}

// nextStep queues gate run g's next step, if any, advancing its cursor.
func (s *sim) nextStep(gate, g int) {
	r := &s.gates[g]
	last := 0
	if r.pos > 0 {
		last = s.c.tasks[r.early[r.pos-1]].Early
	}
	for ; r.pos < len(r.early); r.pos++ {
		n := s.c.tasks[r.early[r.pos]].Early
		if n > s.opt.GateSteps {
			r.pos = len(r.early)
			return
		}
		if n == last {
			continue
		}
		at := r.start + (r.end-r.start)*time.Duration(n)/time.Duration(s.opt.GateSteps)
		s.events.push(event{at: at, seq: r.seq, kind: evProgress, i: int32(gate), n: int32(n), aux: int32(g)})
		r.seq++
		r.pos++
		return
	}
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
		s.tl.Slots[i] = Slot{Start: s.now, End: -1, Lane: lane, After: after}
		if a := s.aside; a != nil && i == a.opt.Stop {
			a.stopping, a.stopTask = true, i
			if a.busy {
				continue // it ends once the connection's statement is done (asideNext)
			}
			s.finishStop()
			continue
		}
		s.run(i, s.durations[i])
	}
}

// run lets task i, started now, work for d once its locks are granted.
func (s *sim) run(i int, d time.Duration) {
	begin := s.now
	if i < len(s.opt.Locks) {
		if at, by := s.lockWait(s.opt.Locks[i]); at > begin {
			begin = at
			if by >= 0 {
				s.tl.Slots[i].After = by // it waited for by's lock
			}
		}
		s.take(s.opt.Locks[i], begin+d, i)
	}
	end := begin + d
	s.tl.Slots[i].End = end
	if s.c.tasks[i].Gate && s.opt.GateSteps > 0 {
		s.gateProgress(i, end)
	}
	s.push(event{at: end, kind: evFinish, i: int32(i)})
}

// gateProgress queues the progress the gate, started now, reaches before it ends: one event per
// Early value of the tasks waiting for it, the first now and each next one when the one before
// fires (nextStep), numbered as if all were queued now.
func (s *sim) gateProgress(gate int, end time.Duration) {
	steps, last := 0, 0
	for _, k := range s.c.early {
		n := s.c.tasks[k].Early
		if n > s.opt.GateSteps {
			break // early is by Early
		}
		if n != last {
			steps, last = steps+1, n
		}
	}
	if steps == 0 {
		return
	}
	s.gates = append(s.gates, gateRun{early: s.c.early, start: s.now, end: end, seq: s.seq})
	s.seq += steps
	s.nextStep(gate, len(s.gates)-1)
}

func (s *sim) step(e event) {
	s.now = e.at
	i := int(e.i)
	switch e.kind {
	case evProgress:
		made, _ := s.c.progress(int(e.n))
		s.ready(made, i)
		s.nextStep(i, int(e.aux))
	case evFinish:
		s.lanes[s.tl.Slots[i].Lane] = false
		s.freedBy = i
		batch, made := s.c.finish(i, false)
		s.ready(made, i)
		if !s.c.provisional[i] {
			s.asideEnded(i)
		}
		switch {
		case len(batch) == 0:
		case s.opt.ConfirmDelay == 0:
			s.confirm(batch, i) // as Run confirms without a Confirmer: before anything else starts
		default:
			s.push(event{at: s.now + s.opt.ConfirmDelay, kind: evConfirm, i: e.i, aux: s.keepBatch(batch)})
		}
	case evConfirm:
		batch := s.batches[e.aux]
		s.batches[e.aux] = nil
		s.freeBatch = append(s.freeBatch, e.aux)
		s.confirm(batch, i)
	case evAside:
		s.asideNext()
	}
}

// keepBatch stores a batch for an evConfirm event in a free entry of s.batches.
func (s *sim) keepBatch(batch []int) int32 {
	if n := len(s.freeBatch); n > 0 {
		k := s.freeBatch[n-1]
		s.freeBatch = s.freeBatch[:n-1]
		s.batches[k] = batch
		return k
	}
	s.batches = append(s.batches, batch)
	return int32(len(s.batches) - 1)
}

// confirm confirms a batch queued when trigger ended.
func (s *sim) confirm(batch []int, trigger int) {
	for _, i := range batch {
		if s.c.provisional[i] {
			s.asideEnded(i) // an early task: its end counts now
		}
	}
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

// eventQueue is a binary heap of events by time, then by the order they were queued (seq, unique:
// so the order events pop in is the same whatever the heap's layout). Typed, it stores events
// without boxing each in an interface as container/heap would.
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }

func (q eventQueue) less(x, y int) bool {
	if q[x].at != q[y].at {
		return q[x].at < q[y].at
	}
	return q[x].seq < q[y].seq
}

func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	for j := len(h) - 1; j > 0; {
		p := (j - 1) / 2
		if !h.less(j, p) {
			break
		}
		h[j], h[p] = h[p], h[j]
		j = p
	}
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for j := 0; ; {
		c := 2*j + 1
		if c >= n {
			break
		}
		if c+1 < n && h.less(c+1, c) {
			c++
		}
		if !h.less(c, j) {
			break
		}
		h[j], h[c] = h[c], h[j]
		j = c
	}
	*q = h
	return top
}

// LockMode is one of PostgreSQL's table lock modes, weakest first.
type LockMode int

// The table lock modes (the server's names: ACCESS SHARE … ACCESS EXCLUSIVE).
const (
	AccessShare LockMode = iota + 1
	RowShare
	RowExclusive
	ShareUpdateExclusive
	Share
	ShareRowExclusive
	Exclusive
	AccessExclusive
)

// lockConflicts is the server's table lock conflict table: the modes (a bit per mode) each mode
// conflicts with.
var lockConflicts = [...]uint16{
	AccessShare:          modes(AccessExclusive),
	RowShare:             modes(Exclusive, AccessExclusive),
	RowExclusive:         modes(Share, ShareRowExclusive, Exclusive, AccessExclusive),
	ShareUpdateExclusive: modes(ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	Share:                modes(RowExclusive, ShareUpdateExclusive, ShareRowExclusive, Exclusive, AccessExclusive),
	ShareRowExclusive:    modes(RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	Exclusive:            modes(RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	AccessExclusive:      modes(AccessShare, RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
}

func modes(ms ...LockMode) uint16 {
	var b uint16
	for _, m := range ms {
		b |= 1 << m
	}
	return b
}

// Conflicts reports whether a lock in mode m and one in mode o on the same table cannot be held
// at once.
func (m LockMode) Conflicts(o LockMode) bool {
	if m <= 0 || int(m) >= len(lockConflicts) || o <= 0 || int(o) >= len(lockConflicts) {
		return false
	}
	return lockConflicts[m]&(1<<o) != 0
}

// Lock is a table lock: the table's name (any key naming it) and the mode.
type Lock struct {
	Table string
	Mode  LockMode
}

// held is what the simulation keeps of a table's locks: per mode, the latest end of the locks in
// that mode asked for so far and the task that asked for it (-1: an aside item). A new request
// waits for the latest end among the modes it conflicts with (nothing when that is past): so
// it queues behind every conflicting lock asked for before it, in constant time however many
// there were.
type held struct {
	end  [len(lockConflicts)]time.Duration
	task [len(lockConflicts)]int
}

// lockWait is when locks can all be granted to a request made now: the latest end of the locks
// asked for before that conflict with them (now when none), and the task that holds it (-1: an
// aside item or none).
func (s *sim) lockWait(locks []Lock) (time.Duration, int) {
	at, by := s.now, -1
	for _, l := range locks {
		h := s.locks[l.Table]
		if h == nil {
			continue
		}
		for m := range h.end {
			if l.Mode.Conflicts(LockMode(m)) && h.end[m] > at {
				at, by = h.end[m], h.task[m]
			}
		}
	}
	return at, by
}

// take records locks asked for now by task (-1: an aside item) and held until end.
func (s *sim) take(locks []Lock, end time.Duration, task int) {
	for _, l := range locks {
		if l.Mode <= 0 || int(l.Mode) >= len(lockConflicts) {
			continue
		}
		h := s.locks[l.Table]
		if h == nil {
			h = &held{}
			s.locks[l.Table] = h
		}
		if end > h.end[l.Mode] {
			h.end[l.Mode], h.task[l.Mode] = end, task
		}
	}
}

// asideLane is the state of SimOptions.Aside's connection.
type asideLane struct {
	opt      *Aside
	waiting  []int   // per item: its After tasks not ended yet
	byTask   [][]int // task → the items waiting for it
	queue    []int   // ready items not taken yet, in the order they became ready
	taken    []bool
	batch    []int // the items the connection took, run one after another
	pos      int   // batch[pos] runs now
	busy     bool
	stopping bool
	stopTask int // the Stop task once it started and waits; -1 before
}

func (s *sim) newAside() error {
	o := s.opt.Aside
	if o == nil {
		return nil
	}
	n := len(s.c.tasks)
	if o.Stop >= n {
		return fmt.Errorf("the aside connection's stop task %d does not exist", o.Stop)
	}
	a := &asideLane{opt: o, waiting: make([]int, len(o.Items)), byTask: make([][]int, n), taken: make([]bool, len(o.Items)), stopTask: -1}
	s.tl.Aside = make([]Slot, len(o.Items))
	for k, it := range o.Items {
		s.tl.Aside[k] = Slot{Start: -1, End: -1, Lane: s.c.jobs + s.c.extra, After: -1}
		for _, j := range it.After {
			if j < 0 || j >= n {
				return fmt.Errorf("aside item %d waits for task %d, which does not exist", k, j)
			}
			a.waiting[k]++
			a.byTask[j] = append(a.byTask[j], k)
		}
		if a.waiting[k] == 0 {
			a.queue = append(a.queue, k)
		}
	}
	s.aside = a
	s.asideKick()
	return nil
}

// asideEnded tells the aside connection that task i ended (for its items, as apply's lane hears it).
func (s *sim) asideEnded(i int) {
	a := s.aside
	if a == nil {
		return
	}
	for _, k := range a.byTask[i] {
		if a.waiting[k]--; a.waiting[k] == 0 {
			a.queue = append(a.queue, k)
		}
	}
	s.asideKick()
}

// asideKick starts the connection on what is ready when it is idle and not stopped.
func (s *sim) asideKick() {
	a := s.aside
	if a == nil || a.busy || a.stopping || len(a.queue) == 0 {
		return
	}
	n := len(a.queue)
	if a.opt.Batch > 0 {
		n = min(n, a.opt.Batch)
	}
	a.batch, a.pos, a.busy = a.queue[:n:n], 0, true
	a.queue = a.queue[n:]
	for _, k := range a.batch {
		a.taken[k] = true
	}
	s.asideItem()
}

// asideItem runs the batch's current item from now, once its locks are granted.
func (s *sim) asideItem() {
	a := s.aside
	k := a.batch[a.pos]
	it := a.opt.Items[k]
	begin, by := s.lockWait(it.Locks)
	end := begin + it.Duration
	s.take(it.Locks, end, -1)
	s.tl.Aside[k].Start, s.tl.Aside[k].End, s.tl.Aside[k].After = s.now, end, by
	s.push(event{at: end, kind: evAside, i: int32(k)})
}

// asideNext goes on after an item: the batch's next one, or, the batch done, the Stop task that
// waits for it, or the next batch.
func (s *sim) asideNext() {
	a := s.aside
	if a.pos++; a.pos < len(a.batch) {
		s.asideItem()
		return
	}
	a.busy, a.batch = false, nil
	if a.stopping {
		if a.stopTask >= 0 {
			s.finishStop()
		}
		return
	}
	s.asideKick()
}

// finishStop lets the Stop task, the connection stopped, do its own work and the items the
// connection never took, on Jobs connections.
func (s *sim) finishStop() {
	a := s.aside
	var left time.Duration
	for k, it := range a.opt.Items {
		if !a.taken[k] {
			a.taken[k] = true
			left += it.Duration
		}
	}
	i := a.stopTask
	a.stopTask = -1
	s.run(i, s.durations[i]+left/time.Duration(s.c.jobs))
}
