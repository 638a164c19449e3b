package forecast

import (
	"fmt"
	"math"
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
	r, err := replay(p.Actions, e.Durations, jobs, e.Extra, e.ConfirmDelay, e.Basis == BasisModel)
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

// replay simulates actions (a plan's, or a subset of one in the plan's order) with their
// durations as apply.Run runs them; early, with the copies that start while pre-data streams
// (earlyStarts). The model replays with them; a rehearsal without, on both sides of its
// calibration (its time outside the graph is its run's wall time less its own replay, so what the
// replay leaves out is in it).
func replay(actions []*plan.Action, durations []time.Duration, jobs, extra int, confirm time.Duration, early bool) (replayed, error) {
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
		tasks, steps := earlyStarts(sub, early && created[db])
		tl, err := sched.Simulate(tasks, durs, sched.SimOptions{Jobs: jobs, Extra: extra, ConfirmDelay: confirm, GateSteps: steps})
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
// entries fall in pg_dump's script is not known before the dump: the tables are taken in plan
// order, spread evenly over the schema action (sched.SimOptions.GateSteps: one step per table).
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
	tasks[schema].Gate = true
	for k, i := range early {
		tasks[i].Early = k + 1
	}
	return tasks, len(early)
}
