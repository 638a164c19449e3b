package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// Event is one thing that happened during apply, for views and --json.
type Event struct {
	Type    EventType
	Address string        // the action's address
	Action  *plan.Action  // the action, when the event is about one
	Elapsed time.Duration // since the action started
	// Work is the action's work time summed over the connections it used, when it is not Elapsed
	// (analyze: its parallel ANALYZEs and those run table by table before it started); 0 otherwise.
	Work    time.Duration
	Rows    int64
	Bytes   int64
	Message string
	Err     error
	// Still marks the apply_progress event the apply view adds for a running action that reported
	// nothing for views.StillEvery (Rows and Bytes are its last progress, if any): "Still creating...".
	Still bool
}

// EventType is what an Event reports; the apply_* types are also the names of apply --json's
// messages (SPEC §6).
type EventType string

// The event types.
const (
	EventStart       EventType = "apply_start"       // an action started
	EventProgress    EventType = "apply_progress"    // a running action moved rows or bytes, or is Still running
	EventComplete    EventType = "apply_complete"    // an action finished
	EventErrored     EventType = "apply_errored"     // an action failed
	EventInterrupted EventType = "apply_interrupted" // an action was stopped by an interrupt
	EventPhase       EventType = "phase"             // a step of a database's migration that is no action
	EventMessage     EventType = "message"           // something worth saying: a retry, a recreated database
)

// Options configure a run.
type Options struct {
	Migration *config.Migration
	Plan      *plan.Plan
	Tools     *pgdump.Tools
	Backend   state.Backend
	// State is the migration's state; Run updates and writes it.
	State *state.State
	Jobs  int
	// Emit receives events; it must not block for long. May be nil.
	Emit func(Event)
	// Prefetch, when not nil, holds the first database's source opened while the plan was made
	// (StartPrefetch); the caller closes it after Run.
	Prefetch *Prefetch
	// TempDir is where the run keeps its temporary files (the process's work directory, see
	// internal/workdir); "" means os.TempDir().
	TempDir string
	// Baseline, when not nil, has a run that succeeds record what it left on the target
	// (RecordBaseline) in its last state write, State.Baseline; its Err says why it could not (the
	// run still succeeds).
	Baseline *BaselineResult
}

// BaselineResult is what became of the baseline of a run (Options.Baseline).
type BaselineResult struct{ Err error }

// Runner executes one plan.
type Runner struct {
	opt     Options
	m       *config.Migration
	mu      sync.Mutex // guards state and its writes
	emitMu  sync.Mutex
	tmp     string
	floatDg int
	// progressSaved is when recordProgress last wrote the state (guarded by mu).
	progressSaved time.Time
	// gen counts changes to the in-memory state (guarded by mu); saveGen reports which it wrote.
	gen int64
	// unconfirmed are actions that succeeded on asynchronously committing sessions and wait for
	// confirmDurable before they are recorded as applied (guarded by mu).
	unconfirmed []*state.Action
	// baseline reads the baseline while the run finishes (Options.Baseline; nil: none).
	baseline *runBaseline
}

// Run executes the plan. It returns nil when every action succeeded.
func Run(ctx context.Context, opt Options) error {
	if opt.Jobs < 1 {
		opt.Jobs = 1
	}
	r := &Runner{opt: opt, m: opt.Migration, floatDg: FloatDigits(opt.Plan.Source.VersionNum, opt.Plan.Target.VersionNum)}
	tmp, err := os.MkdirTemp(opt.TempDir, "pgferry-")
	if err != nil {
		return err
	}
	r.tmp = tmp
	defer os.RemoveAll(tmp)

	st := opt.State
	now := time.Now().UTC()
	r.mu.Lock()
	st.Start(now)
	var forecast *state.Forecast
	if f := opt.Plan.Forecast; f != nil && f.Unavailable == "" {
		forecast = f.Clone()
	}
	st.Run = &state.RunStart{StartedAt: now, Jobs: opt.Jobs, Forecast: forecast}
	st.Source, st.Target = opt.Plan.Source, opt.Plan.Target
	st.Databases = opt.Plan.Databases
	st.Validations = opt.Plan.Validations
	st.ConfigFingerprint = opt.Plan.ConfigFingerprint
	for _, a := range opt.Plan.Actions {
		if sa := st.Action(a.Address); sa == nil || sa.Status != state.ActionApplied {
			st.Upsert(&state.Action{Address: a.Address, Kind: state.ActionKind(a.Kind.Symbol()), Database: a.Database, Status: state.ActionPending,
				RowsEstimate: a.RowsEstimate, BytesEstimate: a.BytesEstimate})
		}
	}
	r.mu.Unlock()
	if opt.Baseline != nil {
		r.baseline = newRunBaseline(ctx, r.m.Target, opt.Plan.Actions, st)
		defer r.baseline.close(ctx)
	}
	if err := r.save(ctx); err != nil {
		return err
	}

	runErr := r.run(ctx)
	end := time.Now().UTC()
	var baseline *state.Baseline
	if runErr == nil && opt.Baseline != nil {
		// Written with the outcome, in one state write. Should the process die before, the state
		// says In progress with every action applied: the next apply has nothing left to do.
		baseline, opt.Baseline.Err = r.baseline.finish(ctx, st)
	}
	r.mu.Lock()
	switch {
	case runErr == nil:
		st.Succeed(end)
		st.Baseline = baseline
	case Interrupted(ctx, runErr):
		st.Interrupt(end)
	default:
		st.Fail(end, runErr)
	}
	if runErr != nil {
		// What was still running when the run stopped (a success waiting for its commit to be
		// confirmed durable, say) is not recorded as running on.
		for _, sa := range st.Actions {
			if sa != nil && sa.Status == state.ActionRunning {
				sa.Status, sa.FinishedAt = state.ActionInterrupted, &end
			}
		}
	}
	r.mu.Unlock()
	// Save even when ctx is done: the state must say where the run stopped.
	if err := r.save(context.WithoutCancel(ctx)); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// Interrupted reports whether err ended a run because ctx was cancelled (Ctrl-C, SIGTERM, pgferry
// cancel) rather than because something failed. Cancelled statements may fail with a closed
// connection instead of context.Canceled: once ctx is done, every error is the interruption's.
func Interrupted(ctx context.Context, err error) bool {
	return err != nil && (errors.Is(err, context.Canceled) || ctx.Err() != nil)
}

func (r *Runner) emit(e Event) {
	if r.opt.Emit == nil {
		return
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.opt.Emit(e)
}

func (r *Runner) run(ctx context.Context) error {
	p := r.opt.Plan
	var instance []*plan.Action
	byDB := map[string][]*plan.Action{}
	for _, a := range p.Actions {
		if a.Database == "" {
			instance = append(instance, a)
		} else {
			byDB[a.Database] = append(byDB[a.Database], a)
		}
	}
	if len(instance) > 0 {
		if err := r.runInstance(ctx, instance); err != nil {
			return err
		}
	}
	if err := r.setSubstatus(ctx, state.SubMigratingData); err != nil {
		return err
	}
	for _, db := range p.Databases {
		if len(byDB[db]) == 0 {
			continue
		}
		if err := r.runDatabaseRetrying(ctx, db, byDB[db]); err != nil {
			if ae := (*actionError)(nil); errors.As(err, &ae) {
				return err // its address names the database
			}
			return fmt.Errorf("database %q: %w", db, err)
		}
	}
	return r.setSubstatus(ctx, state.SubCompleting)
}

// actionError is an action's failure, named by its address.
type actionError struct {
	addr string
	err  error
}

func (e *actionError) Error() string { return e.addr + ": " + e.err.Error() }

func (e *actionError) Unwrap() error { return e.err }
