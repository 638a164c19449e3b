package main

// history: every run (apply, destroy, cancel) of a migration, kept in the state backend beside its
// state (SPEC §7). It reads the backend only: no connection to the migration's servers.

import (
	"context"
	"errors"
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
	ctx, s, end, err := c.begin(pre.v)
	if err != nil {
		return err
	}
	defer end()
	rs, ok := s.backend.(state.RunStore)
	if !ok {
		return errors.New("the state backend cannot keep runs")
	}
	runs, err := rs.Runs(ctx, s.m.Name)
	if err != nil {
		return fmt.Errorf("reading the runs of migration %q: %w", s.m.Name, err)
	}
	return view.Runs(s.m.Name, runs)
}

// recordRun keeps the run a command made among the migration's runs (app.Session.RecordRun); a
// run that cannot be recorded is a warning, never the command's failure.
func (c *cli) recordRun(ctx context.Context, s *session, r *state.Run) {
	if _, err := s.app.RecordRun(ctx, r); err != nil {
		views.RunNotRecorded(c.stderr, err)
	}
}
