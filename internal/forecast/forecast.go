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
	r, err := replay(p.Actions, e.Durations, jobs, e.Extra, e.ConfirmDelay)
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
// durations as apply.Run runs them.
func replay(actions []*plan.Action, durations []time.Duration, jobs, extra int, confirm time.Duration) (replayed, error) {
	var r replayed
	var dbs []string
	byDB := map[string][]int{}
	for i, a := range actions {
		r.longest = max(r.longest, durations[i])
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
		tl, err := sched.Simulate(apply.GraphTasks(sub), durs, sched.SimOptions{Jobs: jobs, Extra: extra, ConfirmDelay: confirm})
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
