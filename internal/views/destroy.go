package views

import (
	"fmt"
	"io"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// Destroy is the view of destroy and cancel (and of apply's rollback when `pgferry cancel` stops
// it): the undo plan, its progress, its outcome, and what cancel says of the apply it stops. It has
// a human form only; under apply --json the rollback's lines are discarded (NewDestroy).
type Destroy interface {
	// Plan shows what the rollback will undo on target (the state's, or the configuration's when
	// the state names none).
	Plan(migration string, target state.Identity, dp *plan.DestroyPlan)
	// NothingToDo says there is nothing to undo (notes: what the plan notes instead).
	NothingToDo(notes []string)
	// Complete ends a rollback that left nothing behind; canceled names the migration cancel ended.
	Complete(destroyed, changed int, canceled string)
	// Incomplete precedes the error of a rollback that left steps undone.
	Incomplete()
	// Event prints one step's progress; redact removes the configuration's secrets.
	Event(redact func(string) string) func(apply.DestroyEvent)
	// DestroyPrompt and CancelPrompt are the questions destroy and cancel ask before they act.
	DestroyPrompt() string
	CancelPrompt() string
	// Declined says that the prompt was not answered yes: nothing was done.
	Declined(cancel bool)
	// The lines of cancel: the migration was never applied, no apply runs, one runs (holder),
	// the request, the apply stopped, and what it left.
	NotApplied(migration string)
	NoneRunning(migration, status string)
	Running(op, migration, lockID, who string)
	AlsoDestroyed()
	Requested(op, migration, lockID, who string)
	Stopped(after float64)
	StoppedEmpty()
	RolledBackByApply(migration string)
	// ApplyCanceled starts the rollback of an apply that `pgferry cancel` stopped.
	ApplyCanceled(migration string)
}

// NewDestroy returns the destroy view writing to v.Stdout, or nowhere when quiet (apply --json,
// whose stdout carries JSON lines only).
func NewDestroy(v *View, quiet bool) Destroy {
	d := &destroyHuman{View: v, w: v.Stdout}
	if quiet {
		d.w = io.Discard
	}
	return d
}

// destroyHuman is the Destroy view for people.
type destroyHuman struct {
	*View
	w io.Writer
}

func printNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(w, "%s %s\n", yellow(bold("Note:")), n)
	}
	fmt.Fprintln(w)
}

// Plan prints the destroy plan, Terraform style.
func (d *destroyHuman) Plan(migration string, target state.Identity, dp *plan.DestroyPlan) {
	w := d.w
	fmt.Fprintf(w, "pgferry will destroy what migration %q created on %s (%s:%d) and put back what it changed:\n\n", migration, target.Name, target.Host, target.Port)
	for _, step := range dp.Steps {
		verb, sym := "will be destroyed", red("-")
		if step.Kind == plan.Update {
			verb, sym = "will be updated in-place", yellow("~")
		}
		fmt.Fprintf(w, "  %s\n", bold(fmt.Sprintf("# %s %s", step.Address, verb)))
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
	fmt.Fprintln(w, bold(fmt.Sprintf("Plan: 0 to add, %d to change, %d to destroy.", change, destroy)))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%s There is no undo. Objects that existed on the target before the migration are not touched.\n\n", yellow(bold("Warning:")))
}

func (d *destroyHuman) NothingToDo(notes []string) {
	if len(notes) > 0 {
		printNotes(d.w, notes)
		return
	}
	fmt.Fprintln(d.w, bold("No changes.")+" No objects need to be destroyed.")
	fmt.Fprintln(d.w)
	fmt.Fprintln(d.w, "Either the migration has not created anything on the target yet, or it was already destroyed.")
}

func (d *destroyHuman) Complete(destroyed, changed int, canceled string) {
	fmt.Fprintln(d.w)
	fmt.Fprintln(d.w, green(bold(fmt.Sprintf("Destroy complete! Resources: %d destroyed.", destroyed))))
	if changed > 0 {
		fmt.Fprintf(d.w, "%d changed object(s) put back as they were before the migration.\n", changed)
	}
	if canceled != "" {
		fmt.Fprintln(d.w, bold(fmt.Sprintf("Migration %q canceled: the target is back where it was before the migration.", canceled)))
	}
}

func (d *destroyHuman) Incomplete() { fmt.Fprintln(d.w) }

// Event prints destroy progress: ADDR: Destroying... / Destruction complete after 1s.
func (d *destroyHuman) Event(redact func(string) string) func(apply.DestroyEvent) {
	w := d.w
	return func(e apply.DestroyEvent) {
		kind := plan.Delete
		if e.Step.Kind == plan.Update {
			kind = plan.Update
		}
		vb := verbsOf(kind)
		switch e.Type {
		case apply.StepStart:
			fmt.Fprintf(w, "%s: %s\n", bold(e.Step.Address), vb.ing)
		case apply.StepComplete:
			note := ""
			if e.Note != "" {
				note = " (" + e.Note + ": nothing to do)"
			}
			fmt.Fprintf(w, "%s: %s after %s%s\n", bold(e.Step.Address), vb.done, Duration(e.Elapsed), note)
		case apply.StepErrored:
			fmt.Fprintf(w, "%s: %s %s\n", bold(e.Step.Address), red("Error:"), redact(e.Err.Error()))
		}
	}
}

func (d *destroyHuman) DestroyPrompt() string {
	return bold("Do you really want to destroy all resources?") + "\n  pgferry will destroy everything the migration created on the target and put back what it changed, as shown above.\n  There is no undo. Only 'yes' will be accepted to confirm."
}

func (d *destroyHuman) CancelPrompt() string {
	return bold("Do you really want to cancel the running apply and destroy all resources?") + "\n  pgferry will stop the running apply, then destroy everything the migration created on the target and put back what it changed.\n  There is no undo. Only 'yes' will be accepted to confirm."
}

func (d *destroyHuman) Declined(cancel bool) {
	if cancel {
		fmt.Fprintln(d.Stdout, "\nCancel cancelled: the apply keeps running.")
		return
	}
	fmt.Fprintln(d.Stdout, "\nDestroy cancelled.")
}

func (d *destroyHuman) NotApplied(migration string) {
	fmt.Fprintf(d.w, "Migration %q has not been applied (the state backend holds no state for it): nothing to cancel.\n", migration)
}

func (d *destroyHuman) NoneRunning(migration, status string) {
	fmt.Fprintf(d.w, "No apply of migration %q is running (status %s): rolling back what it did.\n\n", migration, status)
}

func (d *destroyHuman) Running(op, migration, lockID, who string) {
	fmt.Fprintf(d.w, "An %s of migration %q is running (lock %s, %s): cancel stops it, then rolls back what the migration did.\n\n", op, migration, lockID, who)
}

func (d *destroyHuman) AlsoDestroyed() {
	fmt.Fprintln(d.w, "What the apply creates before it stops is destroyed as well.")
	fmt.Fprintln(d.w)
}

func (d *destroyHuman) Requested(op, migration, lockID, who string) {
	fmt.Fprintf(d.w, "Cancel requested: waiting for the running %s of migration %q (lock %s, %s) to stop...\n", op, migration, lockID, who)
}

func (d *destroyHuman) Stopped(after float64) {
	fmt.Fprintf(d.w, "Apply stopped after %.1fs.\n\n", after)
}

func (d *destroyHuman) StoppedEmpty() {
	fmt.Fprintf(d.w, "The apply stopped before recording anything: nothing to roll back.\n")
}

func (d *destroyHuman) RolledBackByApply(migration string) {
	fmt.Fprintf(d.w, "The apply rolled the migration back before it stopped.\n%s\n",
		bold(fmt.Sprintf("Migration %q canceled: the target is back where it was before the migration.", migration)))
}

func (d *destroyHuman) ApplyCanceled(migration string) {
	fmt.Fprintf(d.w, "\nThe apply was canceled: rolling back what migration %q did on the target.\n\n", migration)
}
