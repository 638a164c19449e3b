package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/internal/workdir"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// signalContext cancels on the first SIGINT/SIGTERM (graceful stop) and exits at the second. At
// a prompt (c.prompting) the first one only cancels: the prompt says what happened.
func (c *cli) signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range ch {
			n++
			if n == 1 {
				if !c.prompting.Load() {
					fmt.Fprintln(c.stderr, "\nInterrupt received. Gracefully shutting down...")
				}
				cancel()
				continue
			}
			fmt.Fprintln(c.stderr, "Two interrupts received. Exiting immediately.")
			os.Exit(1)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

func cmdApply(c *cli, args []string) int {
	fs := newFlags("apply")
	var v varFlags
	v.register(fs, true)
	auto := fs.Bool("auto-approve", false, "skip the interactive approval")
	jobs := fs.Int("jobs", 0, "parallel workers (default: options.jobs)")
	jsonOut := fs.Bool("json", false, "print line-delimited JSON events")
	lockTimeout := fs.Duration("lock-timeout", 0, "wait this long for the state lock (e.g. 5m)")
	if code, done := c.parse(fs, args, "apply [PLANFILE] [--auto-approve] [--jobs N] [--json] [--lock-timeout DUR] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	if fs.NArg() > 1 {
		c.errorf(nil, "apply takes at most one argument, a saved plan file; got %d", fs.NArg())
		return 1
	}
	var saved *plan.Plan
	if fs.NArg() == 1 {
		var err error
		if saved, err = readPlanFile(fs.Arg(0)); err != nil {
			c.errorf(nil, "%v", err)
			return 1
		}
		if v.migration == "" {
			v.migration = saved.Migration
		}
	}
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	if saved != nil && saved.Migration != s.m.Name {
		c.errorf(nil, "the saved plan is for migration %q, not %q", saved.Migration, s.m.Name)
		return 1
	}
	if saved != nil {
		for k, want := range saved.Variables {
			if got, ok := s.cfg.NonSensitiveVars()[k]; ok && got != want {
				c.errorf(s.secrets, "variable %q is %q but the saved plan was made with %q: plan again, or pass the same value", k, got, want)
				return 1
			}
		}
	}
	if *jobs < 0 {
		c.errorf(nil, "--jobs must be at least 1")
		return 1
	}
	n := s.m.Options.Jobs
	if *jobs > 0 {
		n = *jobs
	}
	setProcs(n)
	var jl *views.JSONLines
	if *jsonOut {
		jl = &views.JSONLines{W: c.stdout}
		jl.Write("info", "version", "pgferry "+version, map[string]any{"pgferry": version, "ui": "1.0"})
	}
	// Approval comes before the lock, as in Terraform: nobody waits on a lock behind a prompt.
	lockInfo := state.NewLockInfo("apply", version)
	unlock, err := s.backend.Lock(ctx, s.m.Name, lockInfo, *lockTimeout)
	if err != nil {
		c.errorf(s.secrets, "Error acquiring the state lock\n\n%v", err)
		return 1
	}
	defer unlock()
	// Temporary files live in a work directory of this process; those of applies that died
	// (kill -9, a closed terminal) are removed now.
	if _, err := workdir.Sweep(""); err != nil {
		fmt.Fprintf(c.stderr, "Warning: could not remove temporary files an earlier apply left: %v\n", err)
	}
	wd, err := workdir.New("")
	if err != nil {
		c.errorf(nil, "%v", err)
		return 1
	}
	defer wd.Remove()
	s.tmpDir = wd.Path
	ctx, canceled := c.watchCancel(ctx, s, lockInfo.ID) // `pgferry cancel` (cmd_destroy.go) stops this apply
	// Without a prompt, the first database's snapshot and schema dump start while the plan is made.
	s.prefetch = saved != nil || *auto
	defer func() { s.prefetched.Close() }()
	if code := c.inspect(ctx, s); code != 0 {
		if ctx.Err() != nil {
			// Ctrl-C while the plan was made: nothing was changed, and nothing failed to record.
			fmt.Fprintln(c.stdout, "\nApply cancelled: interrupted while the plan was made; nothing was changed.")
			return 1
		}
		if s.connErr != nil {
			// Recorded as a refused apply is: show and list say Validation failed, with the cause.
			c.recordValidationFailed(ctx, s, unreachablePlan(s))
			if !*jsonOut {
				c.connectivityFailed()
			}
		}
		return code
	}
	if code := c.makePlan(s); code != 0 {
		return code
	}
	p := s.plan
	if saved != nil {
		if reason := stale(saved, p); reason != "" {
			c.errorf(nil, "Saved plan is stale\n\n%s\nRun pgferry plan --out FILE again and apply the new plan.", reason)
			return 1
		}
		saved.Validations = p.Validations
		saved.Summary = plan.Summarize(saved.Actions, p.Validations)
		p = saved
	} else if !*jsonOut {
		views.Plan(c.stdout, p)
	}
	if p.ValidationFailed() {
		c.recordValidationFailed(ctx, s, p)
		c.errorf(nil, "Validation failed: %s failed; nothing was changed. Fix %s and run apply again.", english.Count(p.Summary.Failed, "check"), english.Verb(p.Summary.Failed, "it", "them"))
		if jl != nil {
			jl.Write("error", "diagnostic", "validation failed", map[string]any{"validations": p.Validations})
		}
		return 1
	}
	if !p.HasChanges() {
		if saved != nil && !*jsonOut {
			fmt.Fprintln(c.stdout, "No changes. The target matches the source.")
		}
		if jl != nil {
			jl.Write("info", "change_summary", "No changes.", map[string]any{"changes": p.Summary})
		}
		return 0
	}
	if saved == nil && !*auto {
		// Without a terminal there is nobody to ask; with nothing to do (above) nothing to approve.
		if !c.isTTYIn {
			c.errorf(nil, "no terminal to ask for approval: pass --auto-approve, or apply a saved plan (pgferry plan --out FILE; pgferry apply FILE)")
			return 1
		}
		if !c.confirmed(ctx, "Do you want to perform these actions?\n  pgferry will perform the actions described above.\n  Only 'yes' will be accepted to approve.") {
			// Ctrl-C at the prompt cancels at once, as any answer but yes does: nothing was done.
			fmt.Fprintln(c.stdout, "\nApply cancelled.")
			return 1
		}
		fmt.Fprintln(c.stdout)
	}
	st := s.snap.State
	if st == nil {
		st = state.New(s.m.Name)
	}
	st.ToolVersion = version
	st.MigrationMode = "Offline"
	st.MigrationType = app.MigrationType(s.m.Source.Type)
	var hv interface {
		Event(apply.Event)
		Finish(time.Duration, error)
	} = &views.Applier{W: c.stdout}
	if isTerminal(c.stdout) && !*jsonOut {
		hv = views.NewLive(c.stdout, p, s.m.Options.Verify)
	}
	emit := hv.Event
	stopTicks := func() {}
	if jl != nil {
		emit = jl.Event
		jl.Prog = views.NewProgress(p, s.m.Options.Verify)
		jl.Planned(p)
		jl.Warnings(p)
		jl.Write("info", "apply_start", "Applying plan", map[string]any{"changes": p.Summary})
		stopTicks = progressTicks(jl, time.Second)
	}
	// The record of what the last finished apply left goes: this one changes the target again,
	// and only its own end (below) says what it left.
	st.Baseline = nil
	start := time.Now()
	err = apply.Run(ctx, apply.Options{Migration: s.m, Plan: p, Tools: s.snap.Tools, Backend: s.backend, State: st, Jobs: n, Emit: emit,
		Prefetch: s.prefetched, TempDir: s.tmpDir})
	elapsed := time.Since(start)
	interrupted := apply.Interrupted(ctx, err) && !canceled.Fired()
	const interruptedMsg = "apply was interrupted; the state is saved. Run pgferry apply again to resume, or pgferry destroy to roll back what it did."
	stopTicks()
	var baselineErr error
	if err == nil {
		baselineErr = c.recordBaseline(ctx, s, st)
	}
	c.recordRun(ctx, s, app.ApplyRun{State: st, Plan: p, Start: start, Jobs: n, Err: err, Interrupted: interrupted, Canceled: canceled.Fired()}.Build(start.Add(elapsed)))
	if jl != nil {
		switch {
		case interrupted:
			jl.Write("error", "apply_errored", interruptedMsg, map[string]any{"interrupted": true})
		case err != nil:
			jl.Errored(err, func(m string) string { return redact(m, s.secrets) })
		default:
			jl.Prog.Finished()
			jl.ProgressLine()
			jl.Write("info", "apply_complete", "Apply complete!", map[string]any{"duration_seconds": elapsed.Seconds()})
			jl.Applied(p.Summary)
		}
	} else {
		hv.Finish(elapsed, err)
	}
	if baselineErr != nil {
		msg := fmt.Sprintf("the migration is complete, but what it left on the target could not be recorded (%v): destroy will not be able to tell whether the target was written to since, and will ask for --force", baselineErr)
		if jl != nil {
			jl.Write("warn", "diagnostic", redact(msg, s.secrets), nil)
		} else {
			fmt.Fprintf(c.stderr, "\n%s %s\n", dYellow(dBold("Warning:")), redact(msg, s.secrets))
		}
	}
	if err != nil && canceled.Fired() {
		return c.rollbackCanceled(canceled, s, st, *jsonOut)
	}
	if err != nil {
		// Cancelling the statements may surface as a closed connection rather than as
		// context.Canceled: an interrupt is an interrupt whatever the error says.
		if interrupted {
			c.errorf(s.secrets, interruptedMsg)
		} else {
			c.errorf(s.secrets, "%s\n\nThe state is saved: fix the cause and run pgferry apply again to resume, or pgferry destroy to roll back what it did.", views.ErrorText(err))
		}
		return 1
	}
	return 0
}

// confirmed asks prompt (its first line in bold is left to the caller) and reports whether the
// answer was "yes". Ctrl-C at the prompt is a no, at once.
func (c *cli) confirmed(ctx context.Context, prompt string) bool {
	fmt.Fprint(c.stdout, prompt+"\n\n  Enter a value: ")
	answer, ok := c.readAnswer(ctx)
	return ok && strings.TrimSpace(answer) == "yes"
}

// readAnswer reads a line of the answer to a prompt. It gives up when ctx is done (Ctrl-C at the
// prompt: the read, which cannot be interrupted, is left behind) and then reports false.
func (c *cli) readAnswer(ctx context.Context) (string, bool) {
	c.prompting.Store(true)
	defer c.prompting.Store(false)
	got := make(chan string, 1)
	go func() {
		answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
		got <- answer
	}()
	select {
	case answer := <-got:
		return answer, true
	case <-ctx.Done():
		return "", false
	}
}

// progressTicks writes an apply_progress line of the whole apply every period until stopped, so
// that a reader of apply --json sees the figures move through phases that report nothing of
// their own (index builds, ANALYZE, verify).
func progressTicks(jl *views.JSONLines, period time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				jl.ProgressLine()
			}
		}
	}()
	return func() { close(done); <-finished }
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

// recordBaseline records in the state what a finished apply left on the target (app.RecordBaseline).
func (c *cli) recordBaseline(ctx context.Context, s *session, st *state.State) error {
	return s.app.RecordBaseline(ctx, st)
}
