package main

// history: every run (apply, destroy, cancel) of a migration, kept in the state backend beside its
// state (SPEC §7). It reads the backend only: no connection to the migration's servers.

import (
	"context"
	"fmt"

	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/state"
)

func cmdHistory(c *cli, args []string) error {
	pre := newPreamble("history", true)
	jsonOut := pre.fs.Bool("json", false, "print one JSON document")
	if done, err := pre.parse(c, args, "history [--json] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 0, ""); done {
		return err
	}
	view := views.NewHistory(views.TypeOf(*jsonOut, false), c.view())
	ctx, s, end, err := c.beginState(pre.v)
	if err != nil {
		return err
	}
	defer end()
	runs, err := migrationRuns(ctx, s.backend, s.m.Name)
	if err != nil {
		return err
	}
	return view.Runs(s.m.Name, runs)
}

// migrationRuns reads the summaries of a migration's runs, oldest first.
func migrationRuns(ctx context.Context, b state.Backend, migration string) ([]state.RunSummary, error) {
	runs, err := b.Runs(ctx, migration)
	if err != nil {
		return nil, fmt.Errorf("reading the runs of migration %q: %w", migration, err)
	}
	return runs, nil
}

// recordRun keeps the run a command made among the migration's runs (app.Session.RecordRun); a
// run that cannot be recorded is a warning, never the command's failure.
func (c *cli) recordRun(ctx context.Context, s *session, r *state.Run) {
	if _, err := s.app.RecordRun(ctx, r); err != nil {
		views.RunNotRecorded(c.stderr, err)
	}
}

// recordDeadRun records the run of an apply whose process died, when the migration's state st is
// one's (app.Session.RecordDeadRun), and says so. The caller has just taken the lock for writing
// and read st; a run that cannot be recorded is a warning, and the next command to take the lock
// tries again.
func (c *cli) recordDeadRun(ctx context.Context, s *session, st *state.State) {
	r, err := s.app.RecordDeadRun(ctx, st)
	if err != nil {
		views.RunNotRecorded(c.stderr, fmt.Errorf("the apply whose process died: %w", err))
		return
	}
	if r != nil {
		views.DeadRunRecorded(c.stderr, r)
	}
}
