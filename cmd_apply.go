package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/trace"
	"time"

	"github.com/pgferry/pgferry/plan/planfile"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/internal/workdir"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

func cmdApply(c *cli, args []string) (err error) {
	pre := newPreamble("apply", true)
	auto := pre.fs.Bool("auto-approve", false, "skip the interactive approval")
	jobs := pre.fs.Int("jobs", 0, "parallel workers (default: options.jobs)")
	jsonOut := pre.fs.Bool("json", false, "print line-delimited JSON events")
	lockTimeout := pre.fs.Duration("lock-timeout", 0, "wait this long for the state lock (e.g. 5m)")
	if done, err := pre.parse(c, args, "apply [PLANFILE] [--auto-approve] [--jobs N] [--json] [--lock-timeout DUR] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 1, "a saved plan file"); done {
		return err
	}
	if err := cmp.Or(checkJobs(pre.fs, *jobs), checkDuration(pre.fs, "lock-timeout", *lockTimeout)); err != nil {
		return err
	}
	view := views.NewApply(views.TypeOf(*jsonOut, false), c.view(), isTerminal(c.stdout))
	view.Begin(version)
	if *jsonOut {
		c.diagLines = true
		defer func() { c.jsonError(err) }()
	}
	var saved *plan.Plan
	if pre.fs.NArg() == 1 {
		if saved, err = readPlanFile(pre.fs.Arg(0)); err != nil {
			return err
		}
		if pre.v.migration == "" {
			pre.v.migration = saved.Migration
		}
	}
	opening := trace.StartRegion(context.Background(), "config load")
	ctx, s, end, err := c.begin(pre.v)
	opening.End()
	if err != nil {
		return err
	}
	defer end()
	if err := savedFits(saved, s); err != nil {
		return err
	}
	n := s.m.Options.Jobs
	if *jobs > 0 {
		n = *jobs
	}
	setProcs(n)
	defer apply.BoundHeap()() // a large apply's heap kept near what is live (apply/heap.go)
	// Approval comes before the lock, as in Terraform: nobody waits on a lock behind a prompt.
	lockInfo := state.NewLockInfo("apply", version)
	locking := trace.StartRegion(ctx, "lock")
	unlock, err := c.lock(ctx, s, lockInfo, *lockTimeout)
	locking.End()
	if err != nil {
		return err
	}
	defer unlock()
	// An earlier apply killed before it recorded its run: its run is recorded first. The state is
	// read once, here, for the plan too.
	reading := trace.StartRegion(ctx, "state read")
	s.locked, err = s.backend.Read(ctx, s.m.Name)
	reading.End()
	if err != nil {
		if ctx.Err() != nil {
			view.PlanInterrupted() // Ctrl-C: nothing was changed
			return errReported
		}
		return fmt.Errorf("reading the state: %w", err)
	}
	s.lockedRead = true
	c.recordDeadRun(ctx, s, s.locked)
	// Temporary files live in a work directory of this process; those of applies that died
	// (kill -9, a closed terminal) are removed now.
	if _, err := workdir.Sweep(""); err != nil {
		c.view().Notice(fmt.Sprintf("Warning: could not remove temporary files an earlier apply left: %v", err))
	}
	wd, err := workdir.New("")
	if err != nil {
		return err
	}
	defer wd.Remove()
	s.tmpDir = wd.Path
	ctx, canceled := c.watchCancel(ctx, s, lockInfo.ID) // `pgferry cancel` (cmd_destroy.go) stops this apply
	// Without a prompt, the first database's snapshot and schema dump start while the plan is made.
	s.prefetch = saved != nil || *auto
	defer func() { s.prefetched.Close() }()
	p, err := c.planApply(ctx, s, saved, n, view)
	if p == nil {
		return err
	}
	if saved == nil && !*auto {
		// Without a terminal there is nobody to ask; with nothing to do (above) nothing to approve.
		// As terraform apply -json, --json never asks: its stdout carries JSON lines only.
		if *jsonOut {
			return errors.New("--json cannot ask for approval: pass --auto-approve, or apply a saved plan (pgferry plan --out FILE; pgferry apply --json FILE)")
		}
		if !c.isTTYIn {
			return errors.New("no terminal to ask for approval: pass --auto-approve, or apply a saved plan (pgferry plan --out FILE; pgferry apply FILE)")
		}
		if !c.confirmed(ctx, view.Prompt()) {
			// Ctrl-C at the prompt cancels at once, as any answer but yes does: nothing was done.
			view.Declined()
			return errReported
		}
		view.Approved()
	}
	return c.runApply(ctx, s, p, n, view, canceled)
}

// readPlanFile reads a plan saved by plan --out; a file that is not there is said so plainly.
func readPlanFile(path string) (*plan.Plan, error) {
	p, err := planfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failf("Saved plan %s not found: pgferry plan --out %s saves one", path, path)
	}
	return p, err
}

// savedFits checks that a saved plan (nil: none) is for the session's migration and variables.
func savedFits(saved *plan.Plan, s *session) error {
	if saved == nil {
		return nil
	}
	if saved.Migration != s.m.Name {
		return fmt.Errorf("the saved plan is for migration %q, not %q", saved.Migration, s.m.Name)
	}
	for k, want := range saved.Variables {
		if got, ok := s.cfg.NonSensitiveVars()[k]; ok && got != want {
			return fmt.Errorf("variable %q is %q but the saved plan was made with %q: plan again, or pass the same value", k, got, want)
		}
	}
	return nil
}

// planApply makes the plan that apply carries out, or checks the saved one against it, and
// refuses a plan whose validations failed. p is nil when apply ends here: with err, or with
// nothing to do.
//
// The plan carries its forecast for jobs workers (app.Session.Forecast), shown with the plan
// before the prompt; a saved plan keeps the one it was made with when that was for the same jobs
// (what the user saw and planned the window by), and is shown it before the run starts.
func (c *cli) planApply(ctx context.Context, s *session, saved *plan.Plan, jobs int, view views.Apply) (p *plan.Plan, err error) {
	s.sampleCopy = saved == nil // a saved plan keeps the formats it was made with
	inspecting := trace.StartRegion(ctx, "inspect")
	code := c.inspect(ctx, s)
	inspecting.End()
	if code != 0 {
		if ctx.Err() != nil {
			// Ctrl-C while the plan was made: nothing was changed, and nothing failed to record.
			view.PlanInterrupted()
			return nil, errReported
		}
		if s.connErr != nil {
			// Recorded as a refused apply is: show and list say Validation failed, with the cause.
			up := unreachablePlan(s)
			c.recordValidationFailed(ctx, s, up)
			view.ValidationFailed(up) // --json: the diagnostic line with the failed connectivity check
			view.ConnectivityFailed()
		}
		return nil, fromCode(code)
	}
	if code := c.makePlan(s); code != 0 {
		return nil, fromCode(code)
	}
	p = s.plan
	// The first database's snapshot and schema dump, started while the plan was made, are no part
	// of the run the forecast is for.
	s.app.Prefetch = s.prefetched != nil
	if saved != nil {
		if reason := planfile.Stale(saved, p); reason != "" {
			return nil, failf("Saved plan is stale\n\n%s\nRun pgferry plan --out FILE again and apply the new plan.", reason)
		}
		saved.Validations = p.Validations
		saved.Summary = plan.Summarize(saved.Actions, p.Validations)
		if f := saved.Forecast; f == nil || f.Unavailable != "" || f.Jobs != jobs {
			s.app.Forecast(ctx, s.snap, saved, jobs)
		}
		p = saved
		view.Forecast(p)
	} else {
		s.app.Forecast(ctx, s.snap, p, jobs)
		trace.WithRegion(ctx, "plan print", func() { view.Plan(p) })
	}
	if p.ValidationFailed() {
		c.recordValidationFailed(ctx, s, p)
		view.ValidationFailed(p)
		return nil, failf("Validation failed: %s failed; nothing was changed. Fix %s and run apply again.", english.Count(p.Summary.Failed, "check"), english.Verb(p.Summary.Failed, "it", "them"))
	}
	if !p.HasChanges() {
		view.NoChanges(p, saved != nil)
		return nil, nil
	}
	return p, nil
}

// runApply carries out the plan p with jobs workers, records what it left, and says how it went.
func (c *cli) runApply(ctx context.Context, s *session, p *plan.Plan, jobs int, view views.Apply, canceled *cancelWatch) error {
	st := s.snap.State
	if st == nil {
		st = state.New(s.m.Name)
	}
	st.ToolVersion = version
	st.MigrationMode = "Offline"
	st.MigrationType = app.MigrationType(s.m.Source.Type)
	emit := view.Start(p, s.m.Options.Verify)
	// The record of what the last finished apply left goes: this one changes the target again,
	// and only its own end (below) says what it left.
	st.Baseline = nil
	// The source opened while the plan was made is no part of the run (the forecast leaves it out):
	// the run starts once it is ready, whether a probe already waited for it or not.
	trace.WithRegion(ctx, "prefetch wait", func() {
		select {
		case <-s.prefetched.Done():
		case <-ctx.Done():
		}
	})
	start := time.Now()
	running := trace.StartRegion(ctx, "run")
	s.snap.SourceDBs, s.snap.TargetDBs = nil, nil // the plan is made: apply reads the catalogs it needs in its snapshot
	p.SourceDigest, p.TargetDigest = nil, nil     // only a saved plan's staleness check reads them (the fingerprints stay)
	// A run that succeeds records what it left on the target in its last state write (apply.Options.Baseline).
	var baseline apply.BaselineResult
	err := apply.Run(ctx, apply.Options{Migration: s.m, Plan: p, Tools: s.snap.Tools, Backend: views.OutputFirst(s.backend, view), State: st, Jobs: jobs, Emit: emit,
		Prefetch: s.prefetched, TempDir: s.tmpDir, Baseline: &baseline})
	elapsed := time.Since(start)
	running.End()
	interrupted := apply.Interrupted(ctx, err) && !canceled.Fired()
	view.Stop()
	c.recordRun(ctx, s, app.ApplyRun{State: st, Plan: p, Start: start, Jobs: jobs, Err: err, Interrupted: interrupted, Canceled: canceled.Fired(),
		Forecast: app.RunForecast(p)}.Build(start.Add(elapsed)))
	view.Finish(p, elapsed, err, interrupted, func(m string) string { return redact(m, s.secrets) })
	if err == nil && baseline.Err != nil {
		view.Warning(redact(fmt.Sprintf("the migration is complete, but what it left on the target could not be recorded (%v): destroy will not be able to tell whether the target was written to since, and will ask for --force", baseline.Err), s.secrets))
	}
	if err != nil && canceled.Fired() {
		return c.rollbackCanceled(canceled, s, st, view.Rollback())
	}
	if err != nil {
		// Cancelling the statements may surface as a closed connection rather than as
		// context.Canceled: an interrupt is an interrupt whatever the error says.
		if interrupted {
			return failure(views.ApplyInterrupted)
		}
		return failf("%s\n\nThe state is saved: fix the cause and run pgferry apply again to resume, or pgferry destroy to roll back what it did.", views.ErrorText(err))
	}
	return nil
}

// setProcs sizes the Go scheduler for applying with jobs workers, unless GOMAXPROCS is set.
// pgferry's part of a migration is relaying COPY streams (about a tenth of a core per stream at
// 100 MB/s) and bookkeeping, light next to the servers' work; but with one P per core the Go
// scheduler keeps threads spinning for work and waking each other, CPU taken from the servers when
// they share the machine. One P per four jobs keeps up with the streams: on 2 cores with 2 jobs
// (one P), pgferry used 10-20% less CPU, left to the servers.
func setProcs(jobs int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(min(runtime.NumCPU(), max(1, (jobs+3)/4)))
}

// recordValidationFailed keeps the outcome of a refused apply in the state (app.RecordValidationFailed).
func (c *cli) recordValidationFailed(ctx context.Context, s *session, p *plan.Plan) {
	if err := s.app.RecordValidationFailed(ctx, s.snap, p); err != nil {
		c.errorf(s.secrets, "%v", err)
	}
}

func redact(msg string, secrets []string) string { return config.Redact(msg, secrets) }
