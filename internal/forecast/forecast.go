package forecast

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// maxSpread caps the relative half-width of a forecast's range: wider says nothing.
const maxSpread = 0.75

// Make turns e into the forecast of applying p with jobs workers, replaying the plan as apply
// runs it (apply.Run, apply/database.go): the instance actions (roles, memberships, parameters)
// one after another, then each database in the plan's order, its database action alone first and
// the rest through the scheduler (sched.Simulate over apply.GraphTasks, Jobs lanes, the state
// write that releases dependents); plus e.Fixed, apply's time outside the actions. The range is
// e.Spread either side; the critical path is the chain that bounds the total, first to last: the
// instance actions, then each database's database action and simulated chain.
func Make(p *plan.Plan, jobs int, e *Estimate) (*state.Forecast, error) {
	if e == nil {
		return nil, fmt.Errorf("no estimate")
	}
	if len(e.Durations) != len(p.Actions) {
		return nil, fmt.Errorf("the estimate prices %d actions, the plan has %d", len(e.Durations), len(p.Actions))
	}
	jobs = max(jobs, 1)
	model := e.Basis == BasisModel
	r, err := replay(p.Actions, e.Durations, replayOptions{jobs: jobs, extra: e.Extra, confirm: e.ConfirmDelay,
		early: model, locks: model, analyses: e.Analyses})
	if err != nil {
		return nil, err
	}
	total := max(r.total+e.Fixed, r.longest)
	spread := math.Min(math.Max(e.Spread, 0), maxSpread)
	f := &state.Forecast{ExpectedMS: total.Milliseconds(), LowMS: msOf(float64(total) * math.Max(0, 1-spread)),
		HighMS: msOf(float64(total) * (1 + spread)), Basis: e.Basis, Jobs: jobs, Note: e.Note}
	if e.Basis == BasisRehearsal {
		f.BasisRun = e.Run
	}
	for _, i := range r.path {
		f.CriticalPath = append(f.CriticalPath, p.Actions[i].Address)
		f.CriticalMS = append(f.CriticalMS, e.Durations[i].Milliseconds())
	}
	return f, nil
}

// msOf rounds nanoseconds to milliseconds.
func msOf(ns float64) int64 { return int64(math.Round(ns / float64(time.Millisecond))) }

// replayed is a plan's simulated run: its total over the actions (without the fixed time), the
// critical path as action indexes, and the longest single action (a floor for any total).
type replayed struct {
	total, longest time.Duration
	path           []int
}

// replayOptions are how replay simulates: jobs, extra lanes and the confirmation delay as
// sched.SimOptions; early, with the copies that start while pre-data streams (earlyStarts); locks,
// with the table locks the actions take (tableLocks), which make some wait for others as the
// server does; analyses, apply's analyze lane beside the graph (analyzeLane). The model replays
// with all three; a rehearsal with none, on both sides of its calibration: its measured durations
// already hold what its actions waited for, and its time outside the graph is its run's wall time
// less its own replay, so what the replay leaves out is in it.
type replayOptions struct {
	jobs, extra  int
	confirm      time.Duration
	early, locks bool
	analyses     map[string]map[string]time.Duration
}

// replay simulates actions (a plan's, or a subset of one in the plan's order) with their
// durations as apply.Run runs them (replayOptions).
func replay(actions []*plan.Action, durations []time.Duration, o replayOptions) (replayed, error) {
	var r replayed
	var dbs []string
	byDB := map[string][]int{}
	created := map[string]bool{}
	for i, a := range actions {
		r.longest = max(r.longest, durations[i])
		if a.Type == plan.TypeDatabase {
			created[a.Database] = true
		}
		if a.Database == "" {
			// Instance actions run first, one after another, on one connection (apply/roles.go).
			r.total += durations[i]
			r.path = append(r.path, i)
			continue
		}
		if _, ok := byDB[a.Database]; !ok {
			dbs = append(dbs, a.Database)
		}
		byDB[a.Database] = append(byDB[a.Database], i)
	}
	for _, db := range dbs {
		// The database action runs alone first; the others go through the scheduler (schedule).
		var rest []int
		for _, i := range byDB[db] {
			if actions[i].Type == plan.TypeDatabase {
				r.total += durations[i]
				r.path = append(r.path, i)
				continue
			}
			rest = append(rest, i)
		}
		if len(rest) == 0 {
			continue
		}
		sub := make([]*plan.Action, len(rest))
		durs := make([]time.Duration, len(rest))
		for k, i := range rest {
			sub[k], durs[k] = actions[i], durations[i]
		}
		tasks, steps := earlyStarts(sub, o.early && created[db])
		opt := sched.SimOptions{Jobs: o.jobs, Extra: o.extra, ConfirmDelay: o.confirm, GateSteps: steps}
		if o.locks {
			opt.Locks = tableLocks(sub)
		}
		opt.Aside = analyzeLane(sub, o.analyses[db])
		tl, err := sched.Simulate(tasks, durs, opt)
		if err != nil {
			return r, fmt.Errorf("database %q: %w", db, err)
		}
		end := tl.Finish
		for _, s := range tl.Slots {
			end = max(end, s.End)
		}
		r.total += end
		for _, k := range tl.Critical {
			r.path = append(r.path, rest[k])
		}
	}
	return r, nil
}

// earlyStarts is the scheduler's graph of one database's actions (all but its database action)
// with the early starts apply gives them (apply/graph.go, schema.go): into a database the run
// created, pre-data is streamed, and a plain table whose only dependency is the schema action is
// copied as soon as its own pre-data ran, beside the rest of pre-data. Where each table's
// entries fall in pg_dump's script is not known before the dump, but pg_dump orders the objects
// of a kind by schema name, then name (its sort before the dependency order, which keeps that
// order among tables): the tables are taken in that order, spread evenly over the schema action
// (sched.SimOptions.GateSteps: one step per table). A large table in a schema that sorts late
// starts late.
// It returns the tasks and the gate's steps (0: no early starts).
func earlyStarts(actions []*plan.Action, created bool) ([]sched.Task, int) {
	tasks := apply.GraphTasks(actions)
	schema := -1
	for i, a := range actions {
		if a.Type == plan.TypeSchema {
			schema = i
		}
	}
	if !created || schema < 0 {
		return tasks, 0
	}
	in := map[string]bool{}
	for _, a := range actions {
		in[a.Address] = true
	}
	var early []int
	for i, a := range actions {
		if a.Type != plan.TypeTable || a.Parts > 0 || len(a.DependsOn) == 0 {
			continue
		}
		// As apply: dependencies outside the database's actions (roles) were done before.
		only := true
		for _, d := range a.DependsOn {
			only = only && (d == actions[schema].Address || !in[d])
		}
		if only {
			early = append(early, i)
		}
	}
	if len(early) == 0 {
		return tasks, 0
	}
	sort.SliceStable(early, func(x, y int) bool {
		a, b := actions[early[x]], actions[early[y]]
		if a.Schema != b.Schema {
			return a.Schema < b.Schema
		}
		return a.Name < b.Name
	})
	tasks[schema].Gate = true
	for k, i := range early {
		tasks[i].Early = k + 1
	}
	return tasks, len(early)
}

// tableLocks are the table locks each action of one database's graph takes on the target, as the
// server grants them to the statements apply runs (apply/postdata.go runs pg_dump's definitions
// as they are), by action index:
//   - an index build (CREATE INDEX) takes SHARE on its table: index builds on one table run side
//     by side, and block writes and the other locks below;
//   - an index that backs a constraint (ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY or UNIQUE)
//     takes ACCESS EXCLUSIVE: nothing else on the table runs beside it;
//   - a foreign key (ALTER TABLE … ADD FOREIGN KEY) takes SHARE ROW EXCLUSIVE on its table and on
//     the table it references (the referenced table known by the copy it depends on; one loaded
//     by an earlier run is not locked in the model): two foreign keys that share a table, or one
//     and an index build or ANALYZE of either table, run one after the other.
//
// A table's copies take no lock here: everything else on the table depends on them, and a split
// table's parts copy side by side (ROW EXCLUSIVE does not conflict with itself).
func tableLocks(actions []*plan.Action) [][]sched.Lock {
	copied := map[string]string{} // copy action address → table key
	for _, a := range actions {
		if a.Type == plan.TypeTable || a.Type == plan.TypeTablePart {
			copied[a.Address] = a.Schema + "." + a.Name
		}
	}
	locks := make([][]sched.Lock, len(actions))
	for i, a := range actions {
		table := a.Schema + "." + a.Table
		switch a.Type {
		case plan.TypeIndex:
			mode := sched.Share
			if a.ConstraintOID != 0 {
				mode = sched.AccessExclusive
			}
			locks[i] = []sched.Lock{{Table: table, Mode: mode}}
		case plan.TypeConstraint:
			locks[i] = []sched.Lock{{Table: table, Mode: sched.ShareRowExclusive}}
			for _, dep := range a.DependsOn {
				if ref, ok := copied[dep]; ok && ref != table && !hasLock(locks[i], ref) {
					locks[i] = append(locks[i], sched.Lock{Table: ref, Mode: sched.ShareRowExclusive})
				}
			}
		}
	}
	return locks
}

func hasLock(ls []sched.Lock, table string) bool {
	for _, l := range ls {
		if l.Table == table {
			return true
		}
	}
	return false
}

// analyzeBatch is the most tables apply's analyze lane names in one ANALYZE (apply's
// maxAnalyzeBatch): the analyze action waits for that statement, not for all the lane has queued.
const analyzeBatch = 100

// analyzeLane is apply's analyze lane (apply/analyze.go) in one database's graph: a connection
// beside the lanes that analyzes each table of analyses (the tables it may do early, with their
// ANALYZE's duration) that this graph loads, once every copy and index build on it ended
// (apply.AnalyzeAfter), taking SHARE UPDATE EXCLUSIVE on it; the analyze
// action stops it and does what it did not reach. nil when the graph has no analyze action or no
// such table.
func analyzeLane(actions []*plan.Action, analyses map[string]time.Duration) *sched.Aside {
	if len(analyses) == 0 {
		return nil
	}
	stop := -1
	after := map[string][]int{}
	loaded := map[string]bool{}
	var order []string
	for i, a := range actions {
		if a.Type == plan.TypeAnalyze {
			stop = i
			continue
		}
		key := apply.AnalyzeAfter(a)
		if key == "" {
			continue
		}
		if (a.Type == plan.TypeTable || a.Type == plan.TypeTablePart) && !loaded[key] {
			loaded[key] = true
			order = append(order, key)
		}
		after[key] = append(after[key], i)
	}
	if stop < 0 {
		return nil
	}
	lane := &sched.Aside{Stop: stop, Batch: analyzeBatch}
	for _, key := range order {
		d, ok := analyses[key]
		if !ok {
			continue
		}
		deps := after[key]
		sort.Ints(deps)
		lane.Items = append(lane.Items, sched.AsideItem{After: deps, Duration: d,
			Locks: []sched.Lock{{Table: key, Mode: sched.ShareUpdateExclusive}}})
	}
	if len(lane.Items) == 0 {
		return nil
	}
	return lane
}
