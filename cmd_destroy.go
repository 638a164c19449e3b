package main

// destroy and cancel: take the target back to where it was before the migration, and make a
// running apply (on any host sharing the state backend) stop first.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fatih/color"
	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// cancelPollInterval is how often a running apply looks for a cancel request.
const cancelPollInterval = 500 * time.Millisecond

// errCanceledByRequest is the cause of an apply context canceled by `pgferry cancel`.
var errCanceledByRequest = errors.New("canceled by pgferry cancel")

func cmdDestroy(c *cli, args []string) int {
	fs := newFlags("destroy")
	var v varFlags
	v.register(fs, true)
	auto := fs.Bool("auto-approve", false, "skip the interactive approval")
	force := fs.Bool("force", false, "destroy even though the target was written to since apply finished")
	lockTimeout := fs.Duration("lock-timeout", 0, "wait this long for the state lock (e.g. 5m)")
	if code, done := c.parse(fs, args, "destroy [--auto-approve] [--force] [--lock-timeout DUR] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	if fs.NArg() > 0 {
		c.errorf(nil, "destroy takes no arguments; got %q", fs.Arg(0))
		return 1
	}
	if !*auto && !c.isTTYIn {
		c.errorf(nil, "no terminal to ask for approval: pass --auto-approve to destroy without confirmation")
		return 1
	}
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	unlock, err := s.backend.Lock(ctx, s.m.Name, state.NewLockInfo("destroy", version), *lockTimeout)
	if err != nil {
		c.errorf(s.secrets, "Error acquiring the state lock\n\n%v", err)
		return 1
	}
	defer unlock()
	st, err := s.backend.Read(ctx, s.m.Name)
	if err != nil {
		c.errorf(s.secrets, "reading the state: %v", err)
		return 1
	}
	return c.rollback(ctx, s, st, rollbackOptions{confirm: !*auto, force: *force, out: c.stdout})
}

func cmdCancel(c *cli, args []string) int {
	fs := newFlags("cancel")
	var v varFlags
	v.register(fs, true)
	auto := fs.Bool("auto-approve", false, "stop the running apply and roll back without asking")
	force := fs.Bool("force", false, "roll back even though the target was written to since apply finished")
	wait := fs.Duration("wait", time.Minute, "how long to wait for a running apply to stop")
	if code, done := c.parse(fs, args, "cancel [--auto-approve] [--force] [--wait DUR] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	if fs.NArg() > 0 {
		c.errorf(nil, "cancel takes no arguments; got %q", fs.Arg(0))
		return 1
	}
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	cb, ok := s.backend.(state.Canceler)
	if !ok {
		c.errorf(nil, "the state backend cannot carry cancel requests")
		return 1
	}
	info := state.NewLockInfo("cancel", version)
	unlock, err := s.backend.Lock(ctx, s.m.Name, info, 0)
	var locked *state.LockedError
	switch {
	case errors.As(err, &locked):
		if op := locked.Info.Operation; op == "destroy" || op == "cancel" {
			c.errorf(s.secrets, "a %s of migration %q is already running: it rolls the migration back; wait for it\n\n%v", op, s.m.Name, err)
			return 1
		}
		return c.cancelRunning(ctx, s, cb, info, locked.Info, *wait, rollbackOptions{confirm: !*auto, force: *force, cancel: true, out: c.stdout})
	case err != nil:
		c.errorf(s.secrets, "Error acquiring the state lock\n\n%v", err)
		return 1
	}
	defer unlock()
	// No apply is running: roll back what an earlier, stopped or failed, apply left.
	st, err := s.backend.Read(ctx, s.m.Name)
	if err != nil {
		c.errorf(s.secrets, "reading the state: %v", err)
		return 1
	}
	if st == nil {
		cb.ClearCancel(context.WithoutCancel(ctx), s.m.Name)
		fmt.Fprintf(c.stdout, "Migration %q has not been applied (the state backend holds no state for it): nothing to cancel.\n", s.m.Name)
		return 0
	}
	if !*auto && !c.isTTYIn && len(plan.PlanDestroy(st).Steps) > 0 {
		c.errorf(nil, "no terminal to ask for approval: pass --auto-approve to roll back what migration %q did without confirmation; nothing was changed", s.m.Name)
		return 1
	}
	status := orDash(string(st.Status))
	if st.Status == state.StatusInProgress {
		status = string(state.StatusInterrupted) // nobody runs it: its process died (show and list say so too)
	}
	fmt.Fprintf(c.stdout, "No apply of migration %q is running (status %s): rolling back what it did.\n\n", s.m.Name, status)
	return c.rollback(ctx, s, st, rollbackOptions{confirm: !*auto, force: *force, cancel: true, out: c.stdout})
}

// cancelRunning shows what the rollback removes and asks (o.confirm), then asks the apply holding
// the lock to stop, waits until it has released the lock, and rolls back (unless the apply
// already did). Refused, nothing asked of the apply: no terminal to ask on, or no 'yes'.
func (c *cli) cancelRunning(ctx context.Context, s *session, cb state.Canceler, info, holder state.LockInfo, wait time.Duration, o rollbackOptions) int {
	if o.confirm && !c.isTTYIn {
		c.errorf(s.secrets, "no terminal to ask for approval: pass --auto-approve to stop the running %s of migration %q and roll back without confirmation; the apply keeps running and nothing was changed",
			orDefault(holder.Operation, "apply"), s.m.Name)
		return 1
	}
	// What the apply has recorded so far (read beside the running apply: its writes are atomic).
	st, err := s.backend.Read(ctx, s.m.Name)
	if err != nil {
		c.errorf(s.secrets, "reading the state: %v", err)
		return 1
	}
	dp := plan.PlanDestroy(st)
	fmt.Fprintf(c.stdout, "An %s of migration %q is running (lock %s, %s): cancel stops it, then rolls back what the migration did.\n\n",
		orDefault(holder.Operation, "apply"), s.m.Name, orDefault(holder.ID, "unknown"), orDefault(holder.Who, "unknown"))
	if len(dp.Steps) > 0 {
		renderDestroyPlan(c.stdout, s, st, dp)
	}
	fmt.Fprintln(c.stdout, "What the apply creates before it stops is destroyed as well.")
	fmt.Fprintln(c.stdout)
	if st != nil && !o.force {
		if code, ok := c.checkDrift(ctx, s, st, dp, "cancel"); !ok {
			return code
		}
	}
	if o.confirm {
		if !c.confirmed(ctx, dBold("Do you really want to cancel the running apply and destroy all resources?")+"\n  pgferry will stop the running apply, then destroy everything the migration created on the target and put back what it changed.\n  There is no undo. Only 'yes' will be accepted to confirm.") {
			fmt.Fprintln(c.stdout, "\nCancel cancelled: the apply keeps running.")
			return 1
		}
		fmt.Fprintln(c.stdout)
	}
	req := state.CancelRequest{LockID: holder.ID, Who: info.Who}
	if err := cb.RequestCancel(ctx, s.m.Name, req); err != nil {
		c.errorf(s.secrets, "%v", err)
		return 1
	}
	requested := time.Now()
	who := holder.Who
	if who == "" {
		who = "unknown"
	}
	fmt.Fprintf(c.stdout, "Cancel requested: waiting for the running %s of migration %q (lock %s, %s) to stop...\n",
		orDefault(holder.Operation, "apply"), s.m.Name, orDefault(holder.ID, "unknown"), who)
	unlock, err := s.backend.Lock(ctx, s.m.Name, info, wait)
	if err != nil {
		if errors.Is(err, state.ErrLocked) {
			c.errorf(s.secrets, "the running operation has not stopped within %s. The cancel request stays recorded: it stops as soon as it notices (every %s while it runs); run pgferry cancel again to wait for it and roll back.\n\n%v",
				wait, cancelPollInterval, err)
		} else {
			c.errorf(s.secrets, "waiting for the apply to stop: %v", err)
		}
		return 1
	}
	defer unlock()
	fmt.Fprintf(c.stdout, "Apply stopped after %.1fs.\n\n", time.Since(requested).Seconds())
	st, err = s.backend.Read(ctx, s.m.Name)
	if err != nil {
		c.errorf(s.secrets, "reading the state: %v", err)
		return 1
	}
	if st == nil {
		cb.ClearCancel(context.WithoutCancel(ctx), s.m.Name)
		fmt.Fprintf(c.stdout, "The apply stopped before recording anything: nothing to roll back.\n")
		return 0
	}
	if st.Status == state.StatusCanceled && len(st.Created) == 0 {
		cb.ClearCancel(context.WithoutCancel(ctx), s.m.Name)
		fmt.Fprintf(c.stdout, "The apply rolled the migration back before it stopped.\n%s\n",
			dBold(fmt.Sprintf("Migration %q canceled: the target is back where it was before the migration.", s.m.Name)))
		return 0
	}
	return c.rollback(ctx, s, st, rollbackOptions{cancel: true, force: o.force, out: c.stdout})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var (
	dRed    = color.New(color.FgRed).SprintFunc()
	dYellow = color.New(color.FgYellow).SprintFunc()
	dGreen  = color.New(color.FgGreen).SprintFunc()
	dBold   = color.New(color.Bold).SprintFunc()
)

type rollbackOptions struct {
	confirm bool      // ask before destroying (the caller made sure there is a terminal)
	force   bool      // roll back even though the target was written to since apply finished
	cancel  bool      // the migration ends Canceled (else its status is reset)
	out     io.Writer // human output (io.Discard under apply --json)
}

// rollback is what destroy and cancel share: plan the undo from the state, show it, ask,
// undo, record. The caller holds the state lock.
func (c *cli) rollback(ctx context.Context, s *session, st *state.State, o rollbackOptions) int {
	w := o.out
	dp := plan.PlanDestroy(st)
	if len(dp.Steps) == 0 {
		if len(dp.Notes) == 0 {
			fmt.Fprintln(w, dBold("No changes.")+" No objects need to be destroyed.")
			fmt.Fprintln(w)
			fmt.Fprintln(w, "Either the migration has not created anything on the target yet, or it was already destroyed.")
		} else {
			printNotes(w, dp.Notes)
		}
		if st != nil {
			return c.recordRollback(ctx, s, st, dp, nil, o)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, dGreen(dBold("Destroy complete! Resources: 0 destroyed.")))
		return 0
	}
	renderDestroyPlan(w, s, st, dp)
	op := "destroy"
	if o.cancel {
		op = "cancel"
	}
	if !o.force {
		if code, ok := c.checkDrift(ctx, s, st, dp, op); !ok {
			return code
		}
	}
	if o.confirm {
		if !c.confirmed(ctx, dBold("Do you really want to destroy all resources?")+"\n  pgferry will destroy everything the migration created on the target and put back what it changed, as shown above.\n  There is no undo. Only 'yes' will be accepted to confirm.") {
			fmt.Fprintln(c.stdout, "\nDestroy cancelled.")
			return 1
		}
		fmt.Fprintln(c.stdout)
		if !o.force {
			// The target may have been written to while the question was open.
			if code, ok := c.checkDrift(ctx, s, st, dp, op); !ok {
				return code
			}
		}
	}
	results, err := apply.Destroy(ctx, apply.DestroyOptions{Target: s.m.Target, Plan: dp, Expect: st.Target, Emit: destroyEventPrinter(w, s.secrets)})
	if results == nil {
		c.errorf(s.secrets, "%v\n\nNothing was changed on the target.", err)
		return 1
	}
	code := c.recordRollback(ctx, s, st, dp, results, o)
	if err != nil {
		c.errorf(s.secrets, "%v", err)
		code = 1
	}
	return code
}

// recordRollback writes the state after a rollback (app.RecordRollback) and prints the outcome.
func (c *cli) recordRollback(ctx context.Context, s *session, st *state.State, dp *plan.DestroyPlan, results []apply.StepResult, o rollbackOptions) int {
	w := o.out
	r, werr := s.app.RecordRollback(ctx, st, dp, results, o.cancel)
	c.recordRun(ctx, s, app.RollbackRun{State: st, Plan: dp, Results: results, Cancel: o.cancel, Failures: r.Failures}.Build(time.Now()))
	if werr != nil {
		c.errorf(s.secrets, "%v", werr)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w)
		c.errorf(s.secrets, "Destroy incomplete: %d of %d step(s) failed or did not run; what they undo stays in the state, so run pgferry destroy again once the cause is fixed:\n  %s",
			len(r.Failures), len(dp.Steps), strings.Join(r.Failures, "\n  "))
		return 1
	}
	if werr != nil {
		return 1
	}
	fmt.Fprintln(w)
	line := fmt.Sprintf("Destroy complete! Resources: %d destroyed.", r.Destroyed)
	fmt.Fprintln(w, dGreen(dBold(line)))
	if r.Changed > 0 {
		fmt.Fprintf(w, "%d changed object(s) put back as they were before the migration.\n", r.Changed)
	}
	if o.cancel {
		fmt.Fprintln(w, dBold(fmt.Sprintf("Migration %q canceled: the target is back where it was before the migration.", s.m.Name)))
	}
	return 0
}

func printNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(w, "%s %s\n", dYellow(dBold("Note:")), n)
	}
	fmt.Fprintln(w)
}

// renderDestroyPlan prints the destroy plan, Terraform style.
func renderDestroyPlan(w io.Writer, s *session, st *state.State, dp *plan.DestroyPlan) {
	target := st.Target
	if target.Host == "" {
		target.Name, target.Host, target.Port = s.m.Target.Name, s.m.Target.Dialed(), s.m.Target.Port
	}
	fmt.Fprintf(w, "pgferry will destroy what migration %q created on %s (%s:%d) and put back what it changed:\n\n", s.m.Name, target.Name, target.Host, target.Port)
	for _, step := range dp.Steps {
		verb, sym := "will be destroyed", dRed("-")
		if step.Kind == plan.Update {
			verb, sym = "will be updated in-place", dYellow("~")
		}
		fmt.Fprintf(w, "  %s\n", dBold(fmt.Sprintf("# %s %s", step.Address, verb)))
		fmt.Fprintf(w, "  %s %s\n", sym, step.Reason)
		for _, d := range step.Details {
			fmt.Fprintf(w, "      %s\n", d)
		}
		fmt.Fprintln(w)
	}
	if len(dp.Notes) > 0 {
		printNotes(w, dp.Notes)
	}
	destroy, change := dp.Counts()
	fmt.Fprintln(w, dBold(fmt.Sprintf("Plan: 0 to add, %d to change, %d to destroy.", change, destroy)))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%s There is no undo. Objects that existed on the target before the migration are not touched.\n\n", dYellow(dBold("Warning:")))
}

// destroyEventPrinter prints destroy progress: ADDR: Destroying... / Destruction complete after 1s.
func destroyEventPrinter(w io.Writer, secrets []string) func(apply.DestroyEvent) {
	return func(e apply.DestroyEvent) {
		ing, done := "Destroying...", "Destruction complete"
		if e.Step.Kind == plan.Update {
			ing, done = "Modifying...", "Modifications complete"
		}
		switch e.Type {
		case apply.StepStart:
			fmt.Fprintf(w, "%s: %s\n", dBold(e.Step.Address), ing)
		case apply.StepComplete:
			note := ""
			if e.Note != "" {
				note = " (" + e.Note + ": nothing to do)"
			}
			fmt.Fprintf(w, "%s: %s after %s%s\n", dBold(e.Step.Address), done, roundDuration(e.Elapsed), note)
		case apply.StepErrored:
			fmt.Fprintf(w, "%s: %s %s\n", dBold(e.Step.Address), dRed("Error:"), redact(e.Err.Error(), secrets))
		}
	}
}

func roundDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
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
			fmt.Fprintf(c.stderr, "\nCancel requested by %s: stopping the apply...\n", orDefault(req.Who, "unknown"))
			cancel(errCanceledByRequest)
			return
		}
	}()
	return child, w
}

// rollbackCanceled finishes an apply stopped by `pgferry cancel`: it rolls back as destroy does,
// still holding the apply's lock, and marks the migration Canceled. It returns apply's exit code
// (1: the apply did not complete).
func (c *cli) rollbackCanceled(w *cancelWatch, s *session, st *state.State, quiet bool) int {
	out := c.stdout
	if quiet {
		out = io.Discard
	}
	fmt.Fprintf(out, "\nThe apply was canceled: rolling back what migration %q did on the target.\n\n", s.m.Name)
	c.rollback(w.parent, s, st, rollbackOptions{cancel: true, out: out})
	return 1
}

// checkDrift compares the target with what the last finished apply left (apply.CheckDrift) before
// a rollback drops anything. ok is false when the rollback must not go on: the target was used
// since (listed, with how to proceed) or could not be compared; code is then the exit code.
func (c *cli) checkDrift(ctx context.Context, s *session, st *state.State, dp *plan.DestroyPlan, op string) (code int, ok bool) {
	changed, err := apply.CheckDrift(ctx, apply.DriftOptions{Target: s.m.Target, State: st, Plan: dp})
	if err != nil {
		c.errorf(s.secrets, "comparing the target with what apply left: %v\n\nNothing was changed on the target. Fix the cause and run pgferry %s again, or pass --force to roll back without comparing.", err, op)
		return 1, false
	}
	if len(changed) == 0 {
		return 0, true
	}
	head := "the target was changed since apply finished, and rolling back would lose it"
	unknown := true
	for _, l := range changed {
		unknown = unknown && strings.Contains(l, "cannot tell")
	}
	if unknown {
		head = "pgferry cannot tell whether the target was changed since apply finished"
	}
	c.errorf(s.secrets, "%s refused: %s:\n\n  %s\n\nNothing was changed on the target. The migrated databases or roles look in use: make sure nobody needs what is listed (pgferry verify shows rows that differ from the source), then run pgferry %s --force to roll back anyway.",
		op, head, strings.Join(changed, "\n  "), op)
	return 1, false
}
