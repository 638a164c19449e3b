package main

// destroy and cancel: take the target back to where it was before the migration, and make a
// running apply (on any host sharing the state backend) stop first.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// cancelPollInterval is how often a running apply looks for a cancel request.
const cancelPollInterval = 500 * time.Millisecond

// errCanceledByRequest is the cause of an apply context canceled by `pgferry cancel`.
var errCanceledByRequest = errors.New("canceled by pgferry cancel")

func cmdDestroy(c *cli, args []string) error {
	pre := newPreamble("destroy", true)
	auto := pre.fs.Bool("auto-approve", false, "skip the interactive approval")
	force := pre.fs.Bool("force", false, "destroy even though the target was written to since apply finished")
	lockTimeout := pre.fs.Duration("lock-timeout", 0, "wait this long for the state lock (e.g. 5m)")
	if done, err := pre.parse(c, args, "destroy [--auto-approve] [--force] [--lock-timeout DUR] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 0, ""); done {
		return err
	}
	if err := checkDuration(pre.fs, "lock-timeout", *lockTimeout); err != nil {
		return err
	}
	if !*auto && !c.isTTYIn {
		return errors.New("no terminal to ask for approval: pass --auto-approve to destroy without confirmation")
	}
	ctx, s, end, err := c.begin(pre.v)
	if err != nil {
		return err
	}
	defer end()
	unlock, err := c.lock(ctx, s, state.NewLockInfo("destroy", version), *lockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.backend.Read(ctx, s.m.Name)
	if err != nil {
		return fmt.Errorf("reading the state: %w", err)
	}
	c.recordDeadRun(ctx, s, st) // an apply killed before it recorded its run
	return c.rollback(ctx, s, st, rollbackOptions{confirm: !*auto, force: *force, view: views.NewDestroy(c.view(), false)})
}

func cmdCancel(c *cli, args []string) error {
	pre := newPreamble("cancel", true)
	auto := pre.fs.Bool("auto-approve", false, "stop the running apply and roll back without asking")
	force := pre.fs.Bool("force", false, "roll back even though the target was written to since apply finished")
	wait := pre.fs.Duration("wait", time.Minute, "how long to wait for a running apply to stop")
	if done, err := pre.parse(c, args, "cancel [--auto-approve] [--force] [--wait DUR] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 0, ""); done {
		return err
	}
	if err := checkDuration(pre.fs, "wait", *wait); err != nil {
		return err
	}
	ctx, s, end, err := c.begin(pre.v)
	if err != nil {
		return err
	}
	defer end()
	cb, ok := s.backend.(state.Canceler)
	if !ok {
		return errors.New("the state backend cannot carry cancel requests")
	}
	view := views.NewDestroy(c.view(), false)
	o := rollbackOptions{confirm: !*auto, force: *force, cancel: true, view: view}
	info := state.NewLockInfo("cancel", version)
	unlock, err := s.backend.Lock(ctx, s.m.Name, info, 0)
	var locked *state.LockedError
	switch {
	case errors.As(err, &locked):
		if op := locked.Info.Operation; op == "destroy" || op == "cancel" {
			return fmt.Errorf("a %s of migration %q is already running: it rolls the migration back; wait for it\n\n%w", op, s.m.Name, s.lockHint(err))
		}
		return c.cancelRunning(ctx, s, cb, info, locked.Info, *wait, o)
	case err != nil:
		return failf("Error acquiring the state lock\n\n%v", s.lockHint(err))
	}
	defer unlock()
	// No apply is running: roll back what an earlier, stopped or failed, apply left.
	st, err := s.backend.Read(ctx, s.m.Name)
	if err != nil {
		return fmt.Errorf("reading the state: %w", err)
	}
	c.recordDeadRun(ctx, s, st) // an apply killed before it recorded its run
	if st == nil {
		cb.ClearCancel(context.WithoutCancel(ctx), s.m.Name)
		view.NotApplied(s.m.Name)
		return nil
	}
	if !*auto && !c.isTTYIn && len(plan.PlanDestroy(st).Steps) > 0 {
		return fmt.Errorf("no terminal to ask for approval: pass --auto-approve to roll back what migration %q did without confirmation; nothing was changed", s.m.Name)
	}
	view.NoneRunning(s.m.Name, views.StatusOf(st)) // In progress: nobody runs it, its process died (show and list say so too)
	return c.rollback(ctx, s, st, o)
}

// cancelRunning shows what the rollback removes and asks (o.confirm), then asks the apply holding
// the lock to stop, waits until it has released the lock, and rolls back (unless the apply
// already did). Refused, nothing asked of the apply: no terminal to ask on, or no 'yes'.
func (c *cli) cancelRunning(ctx context.Context, s *session, cb state.Canceler, info, holder state.LockInfo, wait time.Duration, o rollbackOptions) error {
	op, id, who := orDefault(holder.Operation, "apply"), orDefault(holder.ID, "unknown"), orDefault(holder.Who, "unknown")
	if o.confirm && !c.isTTYIn {
		return fmt.Errorf("no terminal to ask for approval: pass --auto-approve to stop the running %s of migration %q and roll back without confirmation; the apply keeps running and nothing was changed", op, s.m.Name)
	}
	// What the apply has recorded so far (read beside the running apply: its writes are atomic).
	st, err := s.backend.Read(ctx, s.m.Name)
	if err != nil {
		return fmt.Errorf("reading the state: %w", err)
	}
	dp := plan.PlanDestroy(st)
	o.view.Running(op, s.m.Name, id, who)
	if len(dp.Steps) > 0 {
		o.view.Plan(s.m.Name, rollbackTarget(s, st), dp)
	}
	o.view.AlsoDestroyed()
	if st != nil && !o.force {
		if err := c.checkDrift(ctx, s, st, dp, "cancel"); err != nil {
			return err
		}
	}
	if o.confirm {
		if !c.confirmed(ctx, o.view.CancelPrompt()) {
			o.view.Declined(true)
			return errReported
		}
		c.view().Blank()
	}
	if err := cb.RequestCancel(ctx, s.m.Name, state.CancelRequest{LockID: holder.ID, Who: info.Who}); err != nil {
		return err
	}
	requested := time.Now()
	o.view.Requested(op, s.m.Name, id, who)
	unlock, err := s.backend.Lock(ctx, s.m.Name, info, wait)
	if err != nil {
		if errors.Is(err, state.ErrLocked) {
			return fmt.Errorf("the running operation has not stopped within %s. The cancel request stays recorded: it stops as soon as it notices (every %s while it runs); run pgferry cancel again to wait for it and roll back.\n\n%w",
				wait, cancelPollInterval, s.lockHint(err))
		}
		return fmt.Errorf("waiting for the apply to stop: %w", err)
	}
	defer unlock()
	o.view.Stopped(time.Since(requested).Seconds())
	if st, err = s.backend.Read(ctx, s.m.Name); err != nil {
		return fmt.Errorf("reading the state: %w", err)
	}
	c.recordDeadRun(ctx, s, st) // the apply died instead of stopping (kill -9 while cancel waited)
	switch {
	case st == nil:
		cb.ClearCancel(context.WithoutCancel(ctx), s.m.Name)
		o.view.StoppedEmpty()
		return nil
	case st.Status == state.StatusCanceled && len(st.Created) == 0:
		cb.ClearCancel(context.WithoutCancel(ctx), s.m.Name)
		o.view.RolledBackByApply(s.m.Name)
		return nil
	}
	o.confirm = false
	return c.rollback(ctx, s, st, o)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type rollbackOptions struct {
	confirm bool          // ask before destroying (the caller made sure there is a terminal)
	force   bool          // roll back even though the target was written to since apply finished
	cancel  bool          // the migration ends Canceled (else its status is reset)
	view    views.Destroy // what the rollback says (nothing on stdout under apply --json)
}

// rollbackTarget is the target a rollback works on: the state's, or the configuration's when
// the state names none.
func rollbackTarget(s *session, st *state.State) state.Identity {
	target := st.Target
	if target.Host == "" {
		target.Name, target.Host, target.Port = s.m.Target.Name, s.m.Target.Dialed(), s.m.Target.Port
	}
	return target
}

// rollback is what destroy and cancel share: plan the undo from the state, show it, ask,
// undo, record. The caller holds the state lock.
func (c *cli) rollback(ctx context.Context, s *session, st *state.State, o rollbackOptions) error {
	dp := plan.PlanDestroy(st)
	if len(dp.Steps) == 0 {
		o.view.NothingToDo(dp.Notes)
		if st != nil {
			return c.recordRollback(ctx, s, st, dp, nil, o)
		}
		o.view.Complete(0, 0, "")
		return nil
	}
	o.view.Plan(s.m.Name, rollbackTarget(s, st), dp)
	op := "destroy"
	if o.cancel {
		op = "cancel"
	}
	if !o.force {
		if err := c.checkDrift(ctx, s, st, dp, op); err != nil {
			return err
		}
	}
	if o.confirm {
		if !c.confirmed(ctx, o.view.DestroyPrompt()) {
			o.view.Declined(false)
			return errReported
		}
		c.view().Blank()
		if !o.force {
			// The target may have been written to while the question was open.
			if err := c.checkDrift(ctx, s, st, dp, op); err != nil {
				return err
			}
		}
	}
	results, err := apply.Destroy(ctx, apply.DestroyOptions{Target: s.m.Target, Plan: dp, Expect: st.Target,
		Emit: o.view.Event(func(m string) string { return redact(m, s.secrets) })})
	if results == nil {
		return failf("%v\n\nNothing was changed on the target.", err)
	}
	rerr := c.recordRollback(ctx, s, st, dp, results, o)
	if err != nil {
		if rerr != nil && !errors.Is(rerr, errReported) {
			c.errorf(s.secrets, "%v", rerr)
		}
		return err
	}
	return rerr
}

// recordRollback writes the state after a rollback (app.RecordRollback) and reports the outcome.
func (c *cli) recordRollback(ctx context.Context, s *session, st *state.State, dp *plan.DestroyPlan, results []apply.StepResult, o rollbackOptions) error {
	r, werr := s.app.RecordRollback(ctx, st, dp, results, o.cancel)
	c.recordRun(ctx, s, app.RollbackRun{State: st, Plan: dp, Results: results, Cancel: o.cancel, Failures: r.Failures}.Build(time.Now()))
	if werr != nil {
		c.errorf(s.secrets, "%v", werr)
	}
	return c.reportRollback(s, dp, r, werr, o)
}

// reportRollback says how a rollback went: the steps that failed or did not run, or what it
// destroyed and put back. werr is the state's write error, already reported.
func (c *cli) reportRollback(s *session, dp *plan.DestroyPlan, r app.Rollback, werr error, o rollbackOptions) error {
	if len(r.Failures) > 0 {
		o.view.Incomplete()
		return failf("Destroy incomplete: %d of %s failed or did not run; what they undo stays in the state, so run pgferry destroy again once the cause is fixed:\n  %s",
			len(r.Failures), english.Count(len(dp.Steps), "step"), strings.Join(r.Failures, "\n  "))
	}
	if werr != nil {
		return errReported
	}
	canceled := ""
	if o.cancel {
		canceled = s.m.Name
	}
	o.view.Complete(r.Destroyed, r.Changed, canceled)
	return nil
}

// cancelWatch is the apply side of `pgferry cancel`: it polls the state backend for a request
// aimed at this apply's lock and cancels the apply's context when one arrives.
type cancelWatch struct {
	parent context.Context // the apply's context before the watch: the rollback runs in it
	req    atomic.Pointer[state.CancelRequest]
}

// Fired reports whether a cancel request stopped the apply.
func (w *cancelWatch) Fired() bool { return w != nil && w.req.Load() != nil }

// watchCancel starts polling every cancelPollInterval for a cancel request aimed at the lock
// lockID and returns the context the apply must run in. The poller ends with ctx.
func (c *cli) watchCancel(ctx context.Context, s *session, lockID string) (context.Context, *cancelWatch) {
	w := &cancelWatch{parent: ctx}
	cb, ok := s.backend.(state.Canceler)
	if !ok {
		return ctx, w
	}
	child, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(cancelPollInterval)
		defer t.Stop()
		for {
			select {
			case <-child.Done():
				return
			case <-t.C:
			}
			req, err := cb.CancelRequest(child, s.m.Name)
			if err != nil || !req.Targets(lockID) {
				continue // a backend hiccup must not stop the apply
			}
			w.req.Store(req)
			c.view().Notice(fmt.Sprintf("\nCancel requested by %s: stopping the apply...", orDefault(req.Who, "unknown")))
			cancel(errCanceledByRequest)
			return
		}
	}()
	return child, w
}

// rollbackCanceled finishes an apply stopped by `pgferry cancel`: it rolls back as destroy does,
// still holding the apply's lock, and marks the migration Canceled. The apply did not complete:
// it fails whatever the rollback did (which says so itself).
func (c *cli) rollbackCanceled(w *cancelWatch, s *session, st *state.State, view views.Destroy) error {
	view.ApplyCanceled(s.m.Name)
	if err := c.rollback(w.parent, s, st, rollbackOptions{cancel: true, view: view}); err != nil && !errors.Is(err, errReported) {
		c.errorf(s.secrets, "%v", err)
	}
	return errReported
}

// checkDrift compares the target with what the last finished apply left (apply.CheckDrift) before
// a rollback drops anything. It returns an error when the rollback must not go on: the target was
// used since (listed, with how to proceed) or could not be compared.
func (c *cli) checkDrift(ctx context.Context, s *session, st *state.State, dp *plan.DestroyPlan, op string) error {
	changed, err := apply.CheckDrift(ctx, apply.DriftOptions{Target: s.m.Target, State: st, Plan: dp})
	if err != nil {
		return failf("comparing the target with what apply left: %v\n\nNothing was changed on the target. Fix the cause and run pgferry %s again, or pass --force to roll back without comparing.", err, op)
	}
	if len(changed) == 0 {
		return nil
	}
	head := "the target was changed since apply finished, and rolling back would lose it"
	unknown := true
	for _, l := range changed {
		unknown = unknown && strings.Contains(l, "cannot tell")
	}
	if unknown {
		head = "pgferry cannot tell whether the target was changed since apply finished"
	}
	return failf("%s refused: %s:\n\n  %s\n\nNothing was changed on the target. The migrated databases or roles look in use: make sure nobody needs what is listed (pgferry verify shows rows that differ from the source), then run pgferry %s --force to roll back anyway.",
		op, head, strings.Join(changed, "\n  "), op)
}
