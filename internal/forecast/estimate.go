package forecast

import "time"

// Basis names where an Estimate came from (state.Forecast.Basis, plan --json's forecast.basis).
const (
	BasisRehearsal = "rehearsal"
	BasisModel     = "model"
)

// Estimate is what a basis predicts for one plan: every action's duration and the time apply
// spends outside the actions' graph.
type Estimate struct {
	// Basis is BasisRehearsal or BasisModel; Run is the rehearsal's run id (0 for a model).
	Basis string
	Run   int
	// Durations holds each action's predicted duration, by its index in the plan's Actions.
	Durations []time.Duration
	// Fixed is apply's serial time outside the actions' graph: connecting, the schema dump and
	// its reading, each database's setup and closing work that is no action.
	Fixed time.Duration
	// Prefetchable is the part of Fixed an apply without a prompt does while its plan is made (the
	// first database's snapshot and schema dump); Prefetched takes it out. For a rehearsal, what
	// its run spent on that (all of it when that apply asked first, next to nothing when it too
	// had prefetched it).
	Prefetchable time.Duration
	// Spread is the relative half-width of the range (0.15: expected ±15%); Make may widen it
	// where the plan differs from what the basis saw.
	Spread float64
	// ConfirmDelay is how long a finished action waits for the state write that releases its
	// dependents (sched.SimOptions.ConfirmDelay); 0: none.
	ConfirmDelay time.Duration
	// Extra is how many connections beside jobs apply will give small tables' work on a slow link
	// (apply.ExtraLanes; sched.SimOptions.Extra); 0 on a fast one.
	Extra int
	// Analyses are the ANALYZE statements apply's analyze lane runs beside the graph (model basis
	// only): by database, each table it gathers the statistics of early, by its key
	// ("schema.name"), with its duration. Make replays the lane with its locks (sched.Aside): what it has not reached when
	// the analyze action starts, that action does. nil: no lane (a rehearsal's analyze action was
	// measured with what the lane left it).
	Analyses map[string]map[string]time.Duration
	// Note says in one line what the basis could not see (actions a rehearsal did not run, say);
	// "" when nothing.
	Note string
	// unseen is how many actions a rehearsal did not run (priced from others of their kind).
	unseen int
	// reformatted marks, by action index, a copy a rehearsal sent in another COPY format than the
	// plan's (priced by formatChange); nil: none.
	reformatted []bool
	// outgrown is, by action index, how much an action grew since the rehearsal that ran it on
	// far less data than the plan holds now (outgrown, rehearsal.go; 0: it did not outgrow it):
	// WithModel prices it by the model; nil: none.
	outgrown []float64
	// unseenNote is the part of a rehearsal's Note about its unseen actions.
	unseenNote string
}

// Prefetched is the estimate for an apply that opens its first database's source while its plan is
// made (apply --auto-approve, apply PLANFILE, and so the apply a saved or reviewed plan is for):
// that part of Fixed is done before the run starts.
//
// A rehearsal's Fixed may be negative (its replay outlasted its run: Rehearsal's calibration).
// Taking the prefetched part out never brings Fixed below 0, nor a negative Fixed further down.
func (e *Estimate) Prefetched() *Estimate {
	c := *e
	c.Fixed = max(c.Fixed-c.Prefetchable, min(c.Fixed, 0))
	c.Prefetchable = 0
	return &c
}
