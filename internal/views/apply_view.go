package views

import (
	"fmt"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/every"
	"github.com/pgferry/pgferry/plan"
)

// ApplyInterrupted is what an apply stopped by Ctrl-C (or SIGTERM) says, as its error and, under
// --json, in its apply_errored line.
const ApplyInterrupted = "apply was interrupted; the state is saved. Run pgferry apply again to resume, or pgferry destroy to roll back what it did."

// Apply is the view of pgferry apply: the plan and its approval, then the events of the run and
// its outcome. The human form prints Terraform-like lines (with live bars on a terminal), the JSON
// form Terraform's machine-readable UI, one JSON object a line.
type Apply interface {
	// Begin starts the output (JSON: the version line).
	Begin(version string)
	// Plan shows the plan about to be applied (made now, not read from a file).
	Plan(p *plan.Plan)
	// Forecast shows a saved plan's forecast (its plan is not shown) before the run starts.
	Forecast(p *plan.Plan)
	// PlanInterrupted says that Ctrl-C came while the plan was made.
	PlanInterrupted()
	// ConnectivityFailed follows the connection error: nothing else was checked.
	ConnectivityFailed()
	// ValidationFailed follows the error of a plan whose validations failed.
	ValidationFailed(p *plan.Plan)
	// NoChanges ends an apply with nothing to do; saved: the plan came from a file (and was not
	// shown).
	NoChanges(p *plan.Plan, saved bool)
	// Prompt is the approval question; Declined says the answer was not yes; Approved follows a yes.
	Prompt() string
	Declined()
	Approved()
	// Start begins the run of p (verifyMode: the migration's options.verify) and returns what
	// receives apply's events. Stop ends what the view does on its own while apply runs (the
	// "Still creating..." lines, JSON progress lines): call it as soon as apply.Run returns.
	Start(p *plan.Plan, verifyMode string) func(apply.Event)
	Stop()
	// Finish ends the run: elapsed is its wall clock, err its error (interrupted: by Ctrl-C);
	// redact removes the configuration's secrets.
	Finish(p *plan.Plan, elapsed time.Duration, err error, interrupted bool, redact func(string) string)
	// Warning says what went wrong that does not fail the apply.
	Warning(msg string)
	// Rollback is the view of the rollback of an apply that `pgferry cancel` stopped.
	Rollback() Destroy
}

// NewApply chooses the apply view: JSONView, or HumanView (with live bars when tty).
func NewApply(t ViewType, v *View, tty bool) Apply {
	if t == JSONView {
		return &applyJSON{View: v, jl: &JSONLines{W: v.Stdout}}
	}
	return &applyHuman{View: v, tty: tty}
}

// applyHuman is the Apply view for people.
type applyHuman struct {
	*View
	tty   bool
	still *still
	batch *batchWriter // the lines held for a file or a pipe (nil on a terminal)
	out   interface {
		Event(apply.Event)
		Finish(time.Duration, error)
	}
}

func (a *applyHuman) Begin(string)                {}
func (a *applyHuman) Plan(p *plan.Plan)           { Plan(a.Stdout, p) }
func (a *applyHuman) PlanInterrupted()            { planInterrupted(a.View) }
func (a *applyHuman) ConnectivityFailed()         { ConnectivityFailed(a.View) }
func (a *applyHuman) ValidationFailed(*plan.Plan) {}

func (a *applyHuman) NoChanges(p *plan.Plan, saved bool) {
	if saved {
		fmt.Fprintln(a.Stdout, "No changes. The target matches the source.")
	}
}

func (a *applyHuman) Prompt() string {
	return "Do you want to perform these actions?\n  pgferry will perform the actions described above.\n  Only 'yes' will be accepted to approve."
}

func (a *applyHuman) Declined() { fmt.Fprintln(a.Stdout, "\nApply cancelled.") }
func (a *applyHuman) Approved() { fmt.Fprintln(a.Stdout) }

func (a *applyHuman) Start(p *plan.Plan, verifyMode string) func(apply.Event) {
	if a.tty {
		a.out = NewLive(a.Stdout, p, verifyMode)
	} else {
		a.batch = newBatchWriter(a.Stdout, batchEvery)
		a.out = &Applier{W: a.batch}
	}
	a.still = newStill(batchedEvent(a.batch, a.out.Event), 0)
	return a.still.event
}

func (a *applyHuman) Stop() {
	if a.still != nil {
		a.still.stop()
	}
	a.batch.flush()
}

func (a *applyHuman) batched() *batchWriter { return a.batch }

func (a *applyHuman) Rollback() Destroy { return NewDestroy(a.View, false) }

func (a *applyHuman) Finish(_ *plan.Plan, elapsed time.Duration, err error, _ bool, _ func(string) string) {
	a.out.Finish(elapsed, err)
	a.batch.close()
}

// applyJSON is the Apply view for programs: line-delimited JSON events.
type applyJSON struct {
	*View
	jl        *JSONLines
	still     *still
	stopTicks func()
	batch     *batchWriter // the lines held between two writes to stdout
}

func (a *applyJSON) batched() *batchWriter { return a.batch }

func (a *applyJSON) Begin(version string) {
	a.jl.Write("info", "version", "pgferry "+version, map[string]any{"pgferry": version, "ui": "1.0"})
}

func (a *applyJSON) Plan(p *plan.Plan) { a.Forecast(p) }
func (a *applyJSON) PlanInterrupted() {
	a.jl.Write("error", "apply_errored", planInterruptedText, map[string]any{"interrupted": true})
}
func (a *applyJSON) ConnectivityFailed() {}
func (a *applyJSON) Prompt() string      { return (&applyHuman{}).Prompt() }
func (a *applyJSON) Declined()           { fmt.Fprintln(a.Stdout, "\nApply cancelled.") }
func (a *applyJSON) Approved()           { fmt.Fprintln(a.Stdout) }

func (a *applyJSON) ValidationFailed(p *plan.Plan) {
	a.jl.Write("error", "diagnostic", "validation failed", map[string]any{"validations": p.Validations})
}

func (a *applyJSON) NoChanges(p *plan.Plan, _ bool) {
	a.jl.Write("info", "change_summary", "No changes.", map[string]any{"changes": p.Summary})
}

func (a *applyJSON) Start(p *plan.Plan, verifyMode string) func(apply.Event) {
	a.jl.Prog = NewProgress(p, verifyMode)
	a.batch = newBatchWriter(a.jl.W, batchEvery)
	a.jl.setW(a.batch)
	a.jl.Planned(p)
	a.jl.Warnings(p)
	a.jl.Write("info", "apply_start", "Applying plan", map[string]any{"changes": p.Summary})
	a.stopTicks = progressTicks(a.jl, time.Second)
	a.still = newStill(batchedEvent(a.batch, a.jl.Event), 0)
	return a.still.event
}

func (a *applyJSON) Stop() {
	if a.still != nil {
		a.still.stop()
		a.stopTicks()
	}
	a.batch.flush()
}

func (a *applyJSON) Finish(p *plan.Plan, elapsed time.Duration, err error, interrupted bool, redact func(string) string) {
	switch {
	case interrupted:
		a.jl.Write("error", "apply_errored", ApplyInterrupted, map[string]any{"interrupted": true})
	case err != nil:
		a.jl.Errored(err, redact)
	default:
		a.jl.Prog.Finished()
		a.jl.ProgressLine()
		a.jl.Write("info", "apply_complete", "Apply complete!", map[string]any{"duration_seconds": elapsed.Seconds()})
		a.jl.Applied(p.Summary)
	}
	a.batch.close()
}

func (a *applyJSON) Warning(msg string) { a.jl.Write("warn", "diagnostic", msg, nil) }

// Rollback discards the rollback's lines: stdout carries JSON lines only (errors still go to stderr).
func (a *applyJSON) Rollback() Destroy { return NewDestroy(a.View, true) }

// planInterrupted says that Ctrl-C came while apply made its plan: nothing was changed, and
// nothing failed to record.
func planInterrupted(v *View) { fmt.Fprintln(v.Stdout, "\n"+planInterruptedText) }

const planInterruptedText = "Apply cancelled: interrupted while the plan was made; nothing was changed."

// ConnectivityFailed says, after the connection error, what it means for the plan: connectivity
// is the first validation, and nothing else could be checked.
func ConnectivityFailed(v *View) {
	fmt.Fprintln(v.Stderr, "Validation failed: the connectivity check failed; nothing else was checked and nothing was changed.")
}

// progressTicks writes an apply_progress line of the whole apply every period until stopped, so
// that a reader of apply --json sees the figures move through phases that report nothing of
// their own (index builds, ANALYZE, verify).
func progressTicks(jl *JSONLines, period time.Duration) (stop func()) {
	return every.Do(period, jl.ProgressLine)
}
