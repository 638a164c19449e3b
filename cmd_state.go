package main

// The state commands: show (a saved plan, or a migration's status), list (every migration in the
// backend) and force-unlock. They read the state backend only: no connection to the migration's
// servers.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/state"
)

// the dead one's.
func settle(ctx context.Context, b state.Backend, st *state.State) (*state.State, error) {
	for range 3 {
		if st == nil || st.Status != state.StatusInProgress {
			return st, nil
		}
		held, err := b.Locked(ctx, st.Migration)
		if err != nil {
			return nil, err
		}
		if held {
			return st, nil
		}
		again, err := b.Read(ctx, st.Migration)
		if err != nil {
			return nil, err
		}
		if again != nil && again.Lineage == st.Lineage && again.Serial == st.Serial {
			return st.AsInterrupted(), nil
		}
		st = again
	}
	return st, nil
}

// loadState loads the configuration for the state commands (show, list, history, report,
// force-unlock), which connect to no server: as terraform show and force-unlock, they run without
// the values only the servers need (a password variable, env() of one). A value the state backend
// itself needs is still required: without it the full load's diagnostics are printed.
func (c *cli) loadState(v varFlags) (*config.Config, bool) {
	in := config.Inputs{Args: v.args, Env: c.env}
	if cfg, diags := config.Load(".", in); !diags.HasErrors() {
		c.secrets = cfg.Secrets()
		return cfg, true
	}
	in.TypesOnly = true // values not given are unknown, and the blocks that use them left out
	if cfg, diags := config.Load(".", in); !diags.HasErrors() && cfg.Backend != nil {
		c.secrets = cfg.Secrets()
		return cfg, true
	}
	return c.load(v) // prints the diagnostics
}

// beginState is begin for the state commands: the migration, by name alone (its block may need
// values the command does without), and the state backend (loadState).
func (c *cli) beginState(v varFlags) (ctx context.Context, s *session, end func(), err error) {
	cfg, ok := c.loadState(v)
	if !ok {
		return nil, nil, nil, errReported
	}
	name, err := cfg.MigrationName(v.migration)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, stop := c.signalContext()
	backend, ok := c.openBackend(ctx, cfg)
	if !ok {
		stop()
		return nil, nil, nil, errReported
	}
	s = &session{cfg: cfg, m: &config.Migration{Name: name}, secrets: cfg.Secrets(), backend: backend}
	return ctx, s, func() { backend.Close(); stop() }, nil
}

// openBackend opens the state backend the configuration declares (local ./.pgferry by default).
func (c *cli) openBackend(ctx context.Context, cfg *config.Config) (state.Backend, bool) {
	backend, err := app.OpenBackend(ctx, cfg)
	if err != nil {
		c.errorf(cfg.Secrets(), "%v", err)
		return nil, false
	}
	return backend, true
}

func cmdShow(c *cli, args []string) error {
	pre := newPreamble("show", true)
	jsonOut := pre.fs.Bool("json", false, "print one JSON document")
	if done, err := pre.parse(c, args, "show [PLANFILE] [--json] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 1, "a saved plan file"); done {
		return err
	}
	view := views.NewShow(views.TypeOf(*jsonOut, false), c.view())
	if pre.fs.NArg() == 1 {
		return showPlanFile(view, pre.fs.Arg(0), pre.v.migration)
	}
	ctx, s, end, err := c.beginState(pre.v)
	if err != nil {
		return err
	}
	defer end()
	st, err := s.backend.Read(ctx, s.m.Name)
	if err == nil {
		st, err = settle(ctx, s.backend, st)
	}
	if err != nil {
		return fmt.Errorf("reading the state: %w", err)
	}
	if st == nil {
		return view.NotStarted(s.m.Name)
	}
	last, err := latestRun(ctx, s.backend, s.m.Name)
	if err != nil {
		return err
	}
	return view.State(st, last, time.Now())
}

// latestRun is the newest run of a migration, or nil when it has none or the backend keeps no
// runs (show and list then fall back to the state's own times).
func latestRun(ctx context.Context, b state.Backend, migration string) (*state.RunSummary, error) {
	runs, err := migrationRuns(ctx, b, migration)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, nil
	}
	return &runs[len(runs)-1], nil
}

// showPlanFile renders a saved plan. It needs no configuration: a plan file is self-contained.
func showPlanFile(view views.Show, path, migration string) error {
	p, err := readPlanFile(path)
	if err != nil {
		return err
	}
	if migration != "" && migration != p.Migration {
		return fmt.Errorf("the saved plan %s is for migration %q, not %q", path, p.Migration, migration)
	}
	return view.PlanFile(path, p)
}

func cmdList(c *cli, args []string) error {
	pre := newPreamble("list", false)
	jsonOut := pre.fs.Bool("json", false, "print one JSON document (an array)")
	if done, err := pre.parse(c, args, "list [--json] [--var NAME=VALUE] [--var-file FILE]", -1, ""); done {
		return err
	}
	if pre.fs.NArg() > 0 {
		return fmt.Errorf("list takes no arguments; got %q", pre.fs.Args())
	}
	view := views.NewList(views.TypeOf(*jsonOut, false), c.view())
	cfg, ok := c.loadState(pre.v)
	if !ok {
		return errReported
	}
	ctx, stop := c.signalContext()
	defer stop()
	backend, ok := c.openBackend(ctx, cfg)
	if !ok {
		return errReported
	}
	defer backend.Close()
	states, err := backend.List(ctx)
	for i := 0; err == nil && i < len(states); i++ {
		states[i], err = settle(ctx, backend, states[i])
	}
	if err != nil {
		return fmt.Errorf("listing the migrations in the state backend: %w", err)
	}
	states = slices.DeleteFunc(states, func(st *state.State) bool { return st == nil })
	last := map[string]*state.RunSummary{}
	for _, st := range states {
		if last[st.Migration], err = latestRun(ctx, backend, st.Migration); err != nil {
			return err
		}
	}
	// Newest start (as listed: the latest run's) first; never-started states last, by name.
	sort.SliceStable(states, func(i, j int) bool {
		a, b := views.StartOf(states[i], last[states[i].Migration]), views.StartOf(states[j], last[states[j].Migration])
		switch {
		case a != nil && b != nil && !a.Equal(*b):
			return a.After(*b)
		case (a == nil) != (b == nil):
			return a != nil
		}
		return states[i].Migration < states[j].Migration
	})
	return view.List(states, last, time.Now())
}

func cmdForceUnlock(c *cli, args []string) error {
	pre := newPreamble("force-unlock", true)
	force := pre.fs.Bool("force", false, "do not ask for confirmation")
	synopsis := "force-unlock LOCK_ID [--force] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"
	if done, err := pre.parse(c, args, synopsis, -1, ""); done {
		return err
	}
	if pre.fs.NArg() != 1 || strings.TrimSpace(pre.fs.Arg(0)) == "" {
		return fmt.Errorf("force-unlock takes exactly one argument, the lock ID (shown as ID in the Lock Info of the error that reported the lock)\n\nUsage: pgferry %s", synopsis)
	}
	id := strings.TrimSpace(pre.fs.Arg(0))
	ctx, s, end, err := c.beginState(pre.v)
	if err != nil {
		return err
	}
	defer end()
	view := views.ForceUnlock{View: c.view()}
	// On a terminal, ask (as Terraform does). Without one (a pipeline) there is nobody to ask: the
	// lock ID, which must match the lock held, is the confirmation.
	if !*force && c.isTTYIn {
		yes := c.confirmed(ctx, view.Prompt(id, s.m.Name))
		view.Blank()
		if !yes {
			return failure("force-unlock cancelled.")
		}
	}
	if err := s.backend.ForceUnlock(ctx, s.m.Name, id); err != nil {
		return failf("Failed to unlock state: %s", strings.TrimPrefix(err.Error(), "force-unlock: "))
	}
	view.Unlocked(s.m.Name)
	return nil
}
