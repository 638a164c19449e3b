package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

func (r *Runner) save(ctx context.Context) error {
	_, err := r.saveGen(ctx)
	return err
}

// saveGen writes the state and returns the generation of in-memory changes it holds.
func (r *Runner) saveGen(ctx context.Context) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.opt.Backend.Write(ctx, r.opt.State); err != nil {
		return 0, fmt.Errorf("saving state: %w", err)
	}
	return r.gen, nil
}

func (r *Runner) setSubstatus(ctx context.Context, sub string) error {
	r.mu.Lock()
	r.opt.State.Substatus = sub
	r.mu.Unlock()
	return r.save(ctx)
}

func (r *Runner) recordChange(c state.Change) {
	r.mu.Lock()
	c.At = time.Now().UTC()
	r.opt.State.Created = append(r.opt.State.Created, c)
	r.mu.Unlock()
}

// markBegin marks an action running in memory, on lane (the worker that runs it; 0 for the
// actions run one at a time outside the graph), which the run's record keeps.
func (r *Runner) markBegin(a *plan.Action, lane int) time.Time {
	start := time.Now()
	r.mu.Lock()
	sa := r.opt.State.Action(a.Address)
	if sa == nil {
		sa = &state.Action{Address: a.Address, Kind: state.ActionKind(a.Kind.Symbol()), Database: a.Database, RowsEstimate: a.RowsEstimate, BytesEstimate: a.BytesEstimate}
		r.opt.State.Upsert(sa)
	}
	sa.Rows, sa.Bytes = 0, 0 // an earlier attempt's progress
	t := start.UTC()
	sa.Status, sa.StartedAt, sa.FinishedAt, sa.Error, sa.Lane = state.ActionRunning, &t, nil, "", lane
	sa.Attempt++
	r.gen++
	r.mu.Unlock()
	r.emit(Event{Type: EventStart, Address: a.Address, Action: a})
	return start
}

// ProgressSaveEvery is how often a running copy's progress (its bytes so far) is written to the
// state, for show in another terminal.
const ProgressSaveEvery = 5 * time.Second

// recordProgress keeps a running copy's bytes (and rows, when it counts them) in the state and
// writes the state at most every ProgressSaveEvery. A failed write is not the copy's failure:
// the next write (the copy's end) reports it.
func (r *Runner) recordProgress(ctx context.Context, a *plan.Action, rows, bytes int64) {
	r.mu.Lock()
	sa := r.opt.State.Action(a.Address)
	if sa == nil || sa.Status != state.ActionRunning {
		r.mu.Unlock()
		return
	}
	sa.Rows, sa.Bytes = max(sa.Rows, rows), max(sa.Bytes, bytes)
	r.gen++
	due := time.Since(r.progressSaved) >= ProgressSaveEvery
	if due {
		r.progressSaved = time.Now()
	}
	r.mu.Unlock()
	if due {
		_ = r.save(ctx)
	}
}

// markFinish records an action's outcome in memory. work is its work time summed over the
// connections it used, when that is not its elapsed time (0: the same).
//
// With confirm set, a success is not yet recorded as applied: the action committed on a session
// with synchronous_commit off, and becomes applied only once queueConfirm queued it and
// confirmDurable made the target's WAL durable past its commit (a target that crashes loses the
// last asynchronous commits).
//
// An action stopped because ctx was cancelled (the apply was interrupted, or another action failed
// and stopped its siblings) is recorded interrupted, without an error: it did not fail.
func (r *Runner) markFinish(ctx context.Context, a *plan.Action, start time.Time, rows, bytes int64, work time.Duration, err error, confirm bool) {
	d := time.Since(start)
	t := time.Now().UTC()
	interrupted := Interrupted(ctx, err)
	r.mu.Lock()
	sa := r.opt.State.Action(a.Address)
	sa.FinishedAt, sa.DurationMS, sa.Rows, sa.Bytes = &t, d.Milliseconds(), rows, bytes
	switch {
	case interrupted:
		sa.Status, sa.Error = state.ActionInterrupted, ""
	case err != nil:
		sa.Status, sa.Error = state.ActionFailed, err.Error()
		if a.Type == plan.TypeTable || a.Type == plan.TypeTablePart || a.Type == plan.TypeIndex || a.Type == plan.TypeConstraint {
			sa.Status = state.ActionTainted
		}
	case confirm:
		// still "running" in the state, until queueConfirm and saveConfirmed
	default:
		sa.Status = state.ActionApplied
	}
	r.gen++
	r.mu.Unlock()
	if err == nil {
		r.baseline.finished(a)
	}
	switch {
	case interrupted:
		r.emit(Event{Type: EventInterrupted, Address: a.Address, Action: a, Elapsed: d, Rows: rows, Bytes: bytes})
	case err != nil:
		r.emit(Event{Type: EventErrored, Address: a.Address, Action: a, Elapsed: d, Err: err})
	default:
		r.emit(Event{Type: EventComplete, Address: a.Address, Action: a, Elapsed: d, Work: work, Rows: rows, Bytes: bytes})
	}
}

// begin marks an action running and saves the state; finish records its outcome durably.
func (r *Runner) begin(ctx context.Context, a *plan.Action) (time.Time, error) {
	start := r.markBegin(a, 0)
	return start, r.save(ctx)
}

// queueConfirm queues finished actions for the next saveConfirmed, which records them applied in
// one state write, and returns the generation of that change.
func (r *Runner) queueConfirm(addrs ...string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, addr := range addrs {
		r.unconfirmed = append(r.unconfirmed, r.opt.State.Action(addr))
	}
	r.gen++
	return r.gen
}

func (r *Runner) finish(ctx context.Context, a *plan.Action, start time.Time, rows, bytes int64, err error) error {
	r.markFinish(ctx, a, start, rows, bytes, 0, err, false)
	return r.save(context.WithoutCancel(ctx))
}

// createdDatabase reports whether this migration created the target database db.
func (r *Runner) createdDatabase(db string) bool { return r.created("database", db) }

// recorded reports whether the state records any change of the object.
func (r *Runner) recorded(typ, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.opt.State.Created {
		if c.Type == typ && c.Name == name {
			return true
		}
	}
	return false
}

// created reports whether the state records that this migration created the object.
func (r *Runner) created(typ, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.opt.State.Created {
		if c.Type == typ && c.Name == name && c.Op == "created" {
			return true
		}
	}
	return false
}
