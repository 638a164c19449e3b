package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// ApplyRun is what an apply leaves to make its run of: the state after it, the plan it ran, when
// it started and how it ended.
type ApplyRun struct {
	State *state.State
	Plan  *plan.Plan
	Start time.Time
	Jobs  int
	// Err is apply.Run's error; Interrupted (Ctrl-C, SIGTERM) and Canceled (pgferry cancel) say
	// why it stopped when it did not fail.
	Err                   error
	Interrupted, Canceled bool
	// Forecast is what the plan expected (nil: none made).
	Forecast *state.Forecast
}

// RunForecast is the forecast a run of p records: the plan's, unless it has none or could not
// make one.
func RunForecast(p *plan.Plan) *state.Forecast {
	if p == nil || p.Forecast == nil || p.Forecast.Unavailable != "" {
		return nil
	}
	return p.Forecast
}

// Build makes the run of an apply that ended at finished. Only the actions this apply started
// count (started at or after its start): a resumed apply's run holds what it did itself, not what
// an earlier run did. Every secret is still in Err: RecordRun redacts.
func (a ApplyRun) Build(finished time.Time) *state.Run {
	r := &state.Run{RunSummary: state.RunSummary{Operation: state.OpApply, StartedAt: a.Start.UTC(), FinishedAt: finished.UTC(), Jobs: a.Jobs,
		Forecast: a.Forecast}}
	switch {
	case a.Canceled:
		r.Outcome = state.StatusCanceled
	case a.Err == nil:
		r.Outcome = state.StatusSucceeded
	case a.Interrupted:
		r.Outcome = state.StatusInterrupted
	default:
		r.Outcome, r.Error = state.StatusFailed, a.Err.Error()
	}
	if p := a.Plan; p != nil {
		r.ToolVersion, r.Source, r.Target = p.ToolVersion, p.Source, p.Target
		r.Planned = state.RunSizes{Databases: len(p.Databases), Tables: p.Summary.Tables, Bytes: p.Summary.Bytes, Rows: p.Summary.Rows}
	}
	if a.State == nil {
		return r
	}
	// Made at the end of a run, beside what the run still holds: the plan's actions are looked up
	// in its own index (Plan.Action), not a map of them all, and the run's list is allocated once
	// at its length (at 60,000 actions, growing it held up to twice its 7 MB).
	ran := func(sa *state.Action) bool {
		return sa != nil && sa.StartedAt != nil && !sa.StartedAt.Before(a.Start)
	}
	n := 0
	for _, sa := range a.State.Actions {
		if ran(sa) {
			n++
		}
	}
	if n > 0 {
		r.Actions = make(state.RunActions, 0, n)
	}
	for _, sa := range a.State.Actions {
		if !ran(sa) {
			continue
		}
		end := finished // still running when the apply stopped
		if sa.FinishedAt != nil && sa.FinishedAt.Before(finished) {
			end = *sa.FinishedAt
		}
		ra := state.RunAction{Address: sa.Address, Lane: sa.Lane,
			Start: sa.StartedAt.Sub(a.Start), End: end.Sub(a.Start), Bytes: sa.Bytes, Rows: sa.Rows, Outcome: sa.Status}
		var pa *plan.Action
		if a.Plan != nil {
			pa = a.Plan.Action(sa.Address)
		}
		if pa != nil {
			// The plan's estimates: a later forecast scales this action's duration by them.
			ra.Type, ra.BytesEstimate, ra.RowsEstimate = pa.Type, pa.BytesEstimate, pa.RowsEstimate
			// The format its COPY sent: the plan's, which apply follows (plan.Action.CopyFormat;
			// "" for other actions and for a table without columns, which has no COPY).
			ra.CopyFormat = pa.CopyFormat
		} else {
			// Without the plan (a dead apply's run, DeadRun): the address says the type, the
			// state kept the estimates.
			ra.Type, ra.BytesEstimate, ra.RowsEstimate = plan.AddrType(sa.Address), sa.BytesEstimate, sa.RowsEstimate
		}
		typ := ra.Type
		ra.Phase = plan.PhaseOf(typ)
		r.Actions = append(r.Actions, ra)
		// Moved data is the copy phase's (a split table's parts carry its rows; other actions may
		// count objects, e.g. sequences set).
		if plan.PhaseOf(typ) == "copy" && (typ != plan.TypeTable || !splitTable(a.Plan, a.State, sa.Address)) {
			r.Bytes += sa.Bytes
			r.Rows += sa.Rows
		}
	}
	r.PhasesMS = phaseWall(r.Actions)
	return r
}

// splitTable reports whether the table action at addr is copied in parts: the plan says, or
// without it the state's part actions do.
func splitTable(p *plan.Plan, st *state.State, addr string) bool {
	if p != nil {
		a := p.Action(addr)
		return a != nil && a.Parts > 0
	}
	return st.Action(addr+".part[1]") != nil
}

// DiedError is the error of a run whose pgferry process died before it could record the run
// itself (DeadRun): nothing is known of why.
const DiedError = "the pgferry process stopped without saying why (it was killed, or its machine stopped); the run ends at its last state write"

// DeadRun is the run of the apply whose process died leaving st (state.State.Dead: In progress,
// nobody holds the lock), made from what it wrote: Interrupted with DiedError, from its start to
// its last state write (UpdatedAt), the actions it started with their lanes, times, bytes and
// rows, each typed by its address (the plan is gone). runs are the migration's recorded runs,
// oldest first. DeadRun is nil when there is nothing to record: st is not In progress, or the
// latest run is this apply's already (the command that recorded it failed before it changed
// the status), so that a dead apply is recorded exactly once. The caller holds the lock.
func DeadRun(st *state.State, runs []state.RunSummary) *state.Run {
	if st == nil || st.Status != state.StatusInProgress {
		return nil
	}
	var start, finished time.Time
	switch {
	case st.Run != nil:
		start = st.Run.StartedAt
	case st.StartedAt != nil: // a state of an older pgferry: the migration's start
		start = *st.StartedAt
	}
	switch {
	case st.UpdatedAt != nil:
		finished = *st.UpdatedAt
	case st.StartedAt != nil:
		finished = *st.StartedAt
	default:
		return nil
	}
	if n := len(runs); n > 0 {
		last := runs[n-1]
		if last.Operation == state.OpApply && last.Outcome == state.StatusInterrupted && last.Error == DiedError &&
			!last.StartedAt.Before(start.Add(-time.Millisecond)) {
			return nil // recorded already
		}
		// The apply started after the latest run ended (it held the lock). Only a state without
		// its own start, or clocks that differ between hosts, can say otherwise.
		if last.FinishedAt.After(start) {
			start = last.FinishedAt
		}
	}
	if start.IsZero() || finished.Before(start) {
		start = finished
	}
	dead := st.AsInterrupted()
	a := ApplyRun{State: dead, Start: start, Err: errors.New(DiedError), Interrupted: true}
	if st.Run != nil {
		a.Jobs, a.Forecast = st.Run.Jobs, st.Run.Forecast.Clone()
	}
	r := a.Build(finished)
	r.Error = DiedError
	r.ToolVersion, r.Source, r.Target = st.ToolVersion, st.Source, st.Target
	r.Planned.Databases = len(st.Databases)
	for _, sa := range st.Actions {
		if sa != nil && plan.AddrType(sa.Address) == plan.TypeTable {
			r.Planned.Tables++
			r.Planned.Rows += sa.RowsEstimate
			r.Planned.Bytes += sa.BytesEstimate
		}
	}
	return r
}

// RollbackRun is what a rollback (destroy, cancel) leaves to make its run of.
type RollbackRun struct {
	State   *state.State
	Plan    *plan.DestroyPlan
	Results []apply.StepResult
	Cancel  bool // pgferry cancel (else destroy)
	// Failures are the steps that failed or did not run (Rollback.Failures).
	Failures []string
}

// PhaseRollback is the phase of every undo step.
const PhaseRollback = "rollback"

// Build makes the run of a rollback that ended at finished, or nil when it had nothing to undo
// (a command that did nothing is no run, as an apply with no changes is none). The run starts
// when its first step did.
func (b RollbackRun) Build(finished time.Time) *state.Run {
	if b.Plan == nil || len(b.Plan.Steps) == 0 {
		return nil
	}
	r := &state.Run{RunSummary: state.RunSummary{Operation: state.OpDestroy, Outcome: state.StatusSucceeded, StartedAt: finished.UTC(), FinishedAt: finished.UTC()}}
	if b.Cancel {
		r.Operation = state.OpCancel
	}
	if st := b.State; st != nil {
		r.Source, r.Target, r.Planned.Databases = st.Source, st.Target, len(st.Databases)
	}
	for _, res := range b.Results {
		if res.Ran && !res.Started.IsZero() && res.Started.Before(r.StartedAt) {
			r.StartedAt = res.Started.UTC()
		}
	}
	notRun := false
	for _, res := range b.Results {
		if res.Step == nil {
			continue
		}
		a := state.RunAction{Address: res.Step.Address, Type: res.Step.Change.Type, Phase: PhaseRollback, Outcome: state.ActionApplied}
		switch {
		case !res.Ran:
			a.Outcome, notRun = state.ActionPending, true
		case res.Err != nil:
			a.Outcome = state.ActionFailed
		}
		if res.Ran {
			a.Start, a.End = res.Started.Sub(r.StartedAt), res.Finished.Sub(r.StartedAt)
		}
		r.Actions = append(r.Actions, a)
	}
	switch {
	case notRun:
		r.Outcome = state.StatusInterrupted
	case len(b.Failures) > 0:
		r.Outcome = state.StatusFailed
	}
	if len(b.Failures) > 0 {
		r.Error = "rollback incomplete: " + strings.Join(b.Failures, "; ")
	}
	r.PhasesMS = phaseWall(r.Actions)
	return r
}

// phaseWall is the wall time of each phase in milliseconds: the union of its actions' intervals,
// so that work done in parallel counts once.
func phaseWall(actions state.RunActions) map[string]int64 {
	byPhase := map[string][][2]time.Duration{}
	for _, a := range actions {
		if a.End > a.Start {
			byPhase[a.Phase] = append(byPhase[a.Phase], [2]time.Duration{a.Start, a.End})
		}
	}
	if len(byPhase) == 0 {
		return nil
	}
	out := make(map[string]int64, len(byPhase))
	for ph, iv := range byPhase {
		sort.Slice(iv, func(i, j int) bool { return iv[i][0] < iv[j][0] })
		var total time.Duration
		cur := iv[0]
		for _, x := range iv[1:] {
			if x[0] > cur[1] {
				total += cur[1] - cur[0]
				cur = x
			} else if x[1] > cur[1] {
				cur[1] = x[1]
			}
		}
		total += cur[1] - cur[0]
		out[ph] = total.Milliseconds()
	}
	return out
}

// RecordRun keeps r among the migration's runs (state.RunStore) and returns its ID; nil r (a
// command that did nothing) records nothing. Its error is redacted, its pgferry version this one
// when the plan did not say. The caller holds the migration's lock; the write goes through even
// when ctx is done (Ctrl-C), as the state's last write does.
func (s *Session) RecordRun(ctx context.Context, r *state.Run) (int, error) {
	if r == nil {
		return 0, nil
	}
	r.Error = s.Redact(r.Error)
	if r.ToolVersion == "" {
		r.ToolVersion = s.ToolVersion
	}
	id, err := s.Backend.AppendRun(context.WithoutCancel(ctx), s.Migration.Name, r)
	if err != nil {
		return 0, fmt.Errorf("recording the run: %s", s.Redact(err.Error()))
	}
	return id, nil
}

// RecordDeadRun records the run of an apply whose process died before it could (DeadRun) from
// the migration's state st, read under the lock, and its runs: the first command to take the
// lock after it (apply, destroy, cancel) calls it before changing anything, so the run is
// recorded once and in order. It returns the recorded run (nil: none to record).
func (s *Session) RecordDeadRun(ctx context.Context, st *state.State) (*state.Run, error) {
	if st == nil || st.Status != state.StatusInProgress {
		return nil, nil
	}
	runs, err := s.Backend.Runs(ctx, s.Migration.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the runs of migration %q: %w", s.Migration.Name, err)
	}
	r := DeadRun(st, runs)
	if _, err := s.RecordRun(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}
