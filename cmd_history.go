package main

// history: every run (apply, destroy, cancel) of a migration, kept in the state backend beside its
// state (SPEC §7). It reads the backend only: no connection to the migration's servers.

import (
	"context"

	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/state"
)

func cmdHistory(c *cli, args []string) int {
	fs := newFlags("history")
	var v varFlags
	v.register(fs, true)
	jsonOut := fs.Bool("json", false, "print one JSON document")
	if code, done := c.parse(fs, args, "history [--json] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	if fs.NArg() > 0 {
		c.errorf(nil, "history takes no arguments; got %q", fs.Args())
		return 1
	}
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	rs, ok := s.backend.(state.RunStore)
	if !ok {
		c.errorf(nil, "the state backend cannot keep runs")
		return 1
	}
	runs, err := rs.Runs(ctx, s.m.Name)
	if err != nil {
		c.errorf(s.secrets, "reading the runs of migration %q: %v", s.m.Name, err)
		return 1
	}
	if *jsonOut {
		if err := views.HistoryJSON(c.stdout, s.m.Name, runs); err != nil {
			c.errorf(nil, "%v", err)
			return 1
		}
		return 0
	}
	views.History(c.stdout, s.m.Name, runs)
	return 0
}

// recordRun keeps the run a command made among the migration's runs (app.Session.RecordRun); a
// run that cannot be recorded is a warning, never the command's failure.
func (c *cli) recordRun(ctx context.Context, s *session, r *state.Run) {
	if _, err := s.app.RecordRun(ctx, r); err != nil {
		views.RunNotRecorded(c.stderr, err)
	}
}
