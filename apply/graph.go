package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/internal/english"

	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
)

// runGraph runs actions in dependency order on Jobs workers (internal/sched), and on a slow link
// on ExtraLanes more for small tables' copies, indexes and foreign keys. Among ready actions,
// indexes, constraints and the closing steps go first, then copies, each in the plan's order
// (largest tables first). An action counts as done for its dependents only once a state write
// holding its completion succeeded; the writes are grouped (flusher, flush.go) so that thousands
// of small actions do not mean thousands of state writes.
func (d *dbRun) runGraph(ctx context.Context, actions []*plan.Action) error {
	r := d.r
	if err := d.openBarrier(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.lane = d.startAnalyzeLane(wctx, actions)
	defer d.lane.close(ctx)
	d.preData = sched.NewProgress()
	rtt := d.linkRTT(ctx)
	extra := ExtraLanes(r.opt.Jobs, rtt)
	if extra > 0 {
		r.emit(Event{Type: EventPhase, Message: fmt.Sprintf("Database %q: round trip %s: %s for the copies, indexes and foreign keys of small tables",
			d.db, rtt.Round(100*time.Microsecond), english.Count(extra, "more connection"))})
	}
	// One worker per lane: it keeps its connections from one action to the next.
	workers := make([]*worker, r.opt.Jobs+extra)
	for j := range workers {
		workers[j] = &worker{d: d, lane: j}
	}
	f := d.startFlusher(ctx, actions)
	tasks := d.tasks(actions)
	// The archive's entries were looked up to build the graph (and the scripts before it); nothing
	// of this attempt at the database reads them again (a new attempt dumps anew): at 20,000
	// tables, 60,000 entries (5 MB) the run no longer holds.
	d.byID = nil
	hold := &earlyAnalyses{lane: d.lane, open: true}
	for i := range tasks {
		if tasks[i].Gate {
			hold.gate, hold.open = i, false
		}
	}
	err := sched.Run(wctx, tasks, sched.Options{Jobs: r.opt.Jobs, Extra: extra, Confirm: hold.confirmer(f), Progress: d.preData,
		Work: func(ctx context.Context, lane, i int) error {
			if err := workers[lane].run(ctx, actions[i]); err != nil {
				return &actionError{actions[i].Address, err}
			}
			hold.finished(actions[i], tasks[i].Early > 0)
			return nil
		},
		WorkGroup: func(ctx context.Context, lane int, group []int) []error {
			list := make([]*plan.Action, len(group))
			for k, i := range group {
				list[k] = actions[i]
			}
			errs := workers[lane].runGroup(ctx, list)
			for k, i := range group {
				if errs[k] != nil {
					errs[k] = &actionError{actions[i].Address, errs[k]}
				} else {
					hold.finished(actions[i], tasks[i].Early > 0)
				}
			}
			return errs
		}})
	cancel() // a failed run stops the analyze lane at once
	for _, w := range workers {
		w.close()
	}
	if ce := (*sched.CycleError)(nil); errors.As(err, &ce) {
		err = fmt.Errorf("internal error: %d action(s) can never run (dependency cycle)", ce.N)
	}
	return f.close(ctx, err)
}

// tasks is the scheduler's graph of this run's actions: GraphTasks, with the schema action as the
// gate of the copies that may start while pre-data is streamed (schema.go).
func (d *dbRun) tasks(actions []*plan.Action) []sched.Task {
	index := addressIndex(actions)
	tasks := graphTasks(actions, index)
	schema, early := d.earlyCopies(actions, index)
	if schema >= 0 {
		tasks[schema].Gate = true
	}
	for _, e := range early {
		tasks[e.action].Early = e.chunk + 1 // chunk k has run once pre-data's progress is k+1
	}
	if len(early) > 0 {
		d.earlyPostData(actions, tasks)
	}
	groupIndexes(actions, tasks)
	return tasks
}

// groupIndexes puts the indexes of each small table (Small tasks: their time goes to round trips
// and commits, not to building) in one group: those ready together are sent in one message, one
// transaction (worker.runGroup), instead of one each. A large table's indexes are built apart, in
// parallel; a foreign key is never grouped (it locks a second table, and two groups locking the
// same two tables in opposite orders could deadlock).
func groupIndexes(actions []*plan.Action, tasks []sched.Task) {
	groups := map[[2]string]int{}
	for i, a := range actions {
		if a.Type != plan.TypeIndex || !tasks[i].Small {
			continue
		}
		key := [2]string{a.Schema, a.Table}
		g, ok := groups[key]
		if !ok {
			g = len(groups) + 1
			groups[key] = g
		}
		tasks[i].Group = g
	}
}

// readOnlyRefs are the pre-data entries whose statements only read what they depend on (its
// definition: a lock that no index build or foreign key waits for, and no write to its catalog
// row). The rest (an owner, a comment, a grant, a column default, a sequence owned by a column,
// an inheritance child) lock a table or rewrite its pg_class row: an index or a foreign key on it
// must not be built while they may still come.
var readOnlyRefs = map[string]bool{"VIEW": true, "MATERIALIZED VIEW": true, "FUNCTION": true, "PROCEDURE": true, "AGGREGATE": true}

// earlyPostData lets the index and foreign key actions of tables loaded early (their copies start
// while pre-data is streamed) start early too, once their table's copy finished and pre-data ran
// every entry they need or would be in the way of: the entries their definition depends on (the
// table, a referenced table, a function, a collation, an operator class) and every later entry of
// pre-data on those (comments, grants, column defaults: they would wait for the build's lock, or
// race its update of the table's catalog row). Their completion is held with the copies' until the
// schema action's (sched's chained early starts): a run that stops before redoes them with the
// database. A foreign key whose referenced table is not loaded early waits for it as usual.
func (d *dbRun) earlyPostData(actions []*plan.Action, tasks []sched.Task) {
	pos := map[int]int{}  // pre-data entry (dump ID) → its chunk
	last := map[int]int{} // pre-data entry → the last chunk depending on it that may lock it
	for k, c := range d.preChunks {
		pos[c.DumpID] = k
		if readOnlyRefs[d.byID[c.DumpID].Desc] {
			continue
		}
		for _, dep := range c.Deps {
			last[dep] = k
		}
	}
	altered := d.tableReadyAfter()
	for i, a := range actions {
		if a.Type != plan.TypeIndex && a.Type != plan.TypeConstraint {
			continue
		}
		chained := false // on a table whose copy may start early
		for _, j := range tasks[i].Deps {
			chained = chained || tasks[j].Early > 0
		}
		k, ok := d.chunkFor(a)
		if !chained || !ok {
			continue
		}
		at := -1
		for _, dep := range d.chunks[k].Deps {
			if p, ok := pos[dep]; ok {
				at = max(at, p)
				if l, ok := last[dep]; ok {
					at = max(at, l)
				}
			}
		}
		if at < 0 {
			continue // pg_restore listed no dependency: wait for all of pre-data
		}
		if l, ok := altered[a.Schema+"."+a.Table]; ok {
			at = max(at, l)
		}
		tasks[i].Early = at + 1
	}
}

// GraphTasks is the scheduler's graph of actions as apply runs them, without early starts: each
// action depends on those of its DependsOn in the list, and copies rank after everything else
// (indexes, constraints and the closing steps of loaded tables go first: an index build waits for
// its file to be synced, and a copy beside it uses that time). Task i is actions[i].
func GraphTasks(actions []*plan.Action) []sched.Task {
	return graphTasks(actions, addressIndex(actions))
}

// addressIndex maps each action's address to its position in actions.
func addressIndex(actions []*plan.Action) map[string]int {
	index := make(map[string]int, len(actions))
	for i, a := range actions {
		index[a.Address] = i
	}
	return index
}

// graphTasks is GraphTasks with the actions' addressIndex, which the run's graph looks up too
// (tasks): one map of 62,000 addresses at 20,000 tables, not two at once.
func graphTasks(actions []*plan.Action, index map[string]int) []sched.Task {
	tasks := make([]sched.Task, len(actions))
	for i, a := range actions {
		for _, dep := range a.DependsOn {
			if j, ok := index[dep]; ok {
				tasks[i].Deps = append(tasks[i].Deps, j)
			}
		}
		if isCopy(a) {
			tasks[i].Rank = 1
		}
	}
	for i, a := range actions {
		tasks[i].Small = small(a, actions, tasks[i].Deps)
	}
	return tasks
}

// SmallTable is the largest table (heap and TOAST, on the source) whose copy, indexes and
// foreign keys count as latency-bound work: on a slow link their time goes to round trips, and
// they may run on the extra lanes (ExtraLanes).
const SmallTable = 8 << 20

// small reports whether action a (of actions, depending on deps) is latency-bound work: the
// whole-table copy of a small table, or an index or foreign key on small tables only (their
// copies, which a depends on, are all small; one on a table loaded by an earlier run is not).
func small(a *plan.Action, actions []*plan.Action, deps []int) bool {
	switch a.Type {
	case plan.TypeTable:
		return a.Parts == 0 && a.BytesEstimate <= SmallTable
	case plan.TypeIndex, plan.TypeConstraint:
		if a.BytesEstimate > SmallTable {
			return false
		}
		copies := 0
		for _, j := range deps {
			switch d := actions[j]; d.Type {
			case plan.TypeTable:
				if d.Parts > 0 || d.BytesEstimate > SmallTable {
					return false
				}
				copies++
			case plan.TypeTablePart:
				return false
			}
		}
		return copies > 0
	}
	return false
}

// ExtraLanes is how many connections beside jobs apply gives the small tables' copies, indexes
// and foreign keys (Small tasks) on links whose round trip is rtt: none below 5 ms (loopback, a
// LAN, a busy server's reply), where that work is bound by the servers' CPU as the rest is; on a slow link their time goes to
// waiting for replies, and more of them at once keep the servers busy: twice jobs, at most 8.
func ExtraLanes(jobs int, rtt time.Duration) int {
	if rtt < 5*time.Millisecond {
		return 0
	}
	return min(2*max(jobs, 1), 8)
}

// linkRTT is the round trip of the slower of the two links, timed on connections already open
// and idle now (the target's barrier, the source's snapshot holder): the fastest of two SELECT 1
// each. 0 when it cannot be timed.
func (d *dbRun) linkRTT(ctx context.Context) time.Duration {
	rtt := func(c *pgx.Conn) time.Duration {
		if c == nil {
			return 0
		}
		best := time.Duration(0)
		for k := 0; k < 2; k++ {
			start := time.Now()
			if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
				return 0
			}
			if t := time.Since(start); k == 0 || t < best {
				best = t
			}
		}
		return best
	}
	return max(rtt(d.barrier), rtt(d.holder))
}

// isCopy reports whether an action moves data.
func isCopy(a *plan.Action) bool {
	switch a.Type {
	case plan.TypeTable, plan.TypeTablePart, plan.TypeLargeObj, plan.TypeExtData:
		return true
	}
	return false
}

// earlyAnalyses keeps what finished beside pre-data (early copies, indexes and foreign keys) from
// the analyze lane until the schema action's completion is confirmed: ANALYZE would wait for or
// hold up pre-data's later entries on the table, and statistics of a run that stops before then
// are lost with the database the next run creates again.
type earlyAnalyses struct {
	lane *analyzeLane
	gate int // the schema action's task
	mu   sync.Mutex
	open bool // the gate is confirmed (or there is none)
	held []*plan.Action
}

// finished passes a's success to the lane, or holds it when a may have run early.
func (h *earlyAnalyses) finished(a *plan.Action, early bool) {
	h.mu.Lock()
	if early && !h.open {
		h.held = append(h.held, a)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	h.lane.finished(a)
}

// confirmer wraps c: the confirmation of the gate's batch releases what was held.
func (h *earlyAnalyses) confirmer(c sched.Confirmer) sched.Confirmer {
	if h.open {
		return c
	}
	return heldConfirmer{c, h}
}

type heldConfirmer struct {
	sched.Confirmer
	h *earlyAnalyses
}

func (c heldConfirmer) Confirm(tasks []int, done func(error)) {
	if !slices.Contains(tasks, c.h.gate) {
		c.Confirmer.Confirm(tasks, done)
		return
	}
	c.Confirmer.Confirm(tasks, func(err error) {
		if err == nil {
			c.h.mu.Lock()
			held := c.h.held
			c.h.held, c.h.open = nil, true
			c.h.mu.Unlock()
			for _, a := range held {
				c.h.lane.finished(a)
			}
		}
		done(err)
	})
}
