package main

// report: one self-contained HTML file (or --markdown) of a run kept in the state backend (SPEC §7).

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/state"
)

func cmdReport(c *cli, args []string) error {
	pre := newPreamble("report", true)
	out := pre.fs.String("out", "", "write the report to FILE (default: pgferry-report-MIGRATION-RUN.html; with --markdown, standard output)")
	md := pre.fs.Bool("markdown", false, "the same facts as Markdown, for a change ticket")
	if done, err := pre.parse(c, args, "report [RUN] [--out FILE] [--markdown] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 1, "a run number (pgferry history lists them)"); done {
		return err
	}
	id := 0
	if pre.fs.NArg() == 1 {
		n, err := strconv.Atoi(pre.fs.Arg(0))
		if err != nil || n < 1 {
			return fmt.Errorf("RUN must be a run number (1, 2, …; pgferry history lists them), not %q", pre.fs.Arg(0))
		}
		id = n
	}
	ctx, s, end, err := c.beginState(pre.v)
	if err != nil {
		return err
	}
	defer end()
	runs, err := migrationRuns(ctx, s.backend, s.m.Name)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("migration %q has no runs yet: every pgferry apply, destroy and cancel is one", s.m.Name)
	}
	if id == 0 {
		for _, r := range runs {
			id = max(id, r.ID)
		}
	}
	run, err := s.backend.Run(ctx, s.m.Name, id)
	if err != nil {
		return fmt.Errorf("reading run %d of migration %q: %w", id, s.m.Name, err)
	}
	if run == nil {
		return fmt.Errorf("migration %q has no run %d: pgferry history lists its runs", s.m.Name, id)
	}
	// The state keeps the validations of its latest apply only: they are that run's.
	var vals []state.Validation
	if st, err := s.backend.Read(ctx, s.m.Name); err == nil && st != nil && run.Operation == state.OpApply && latestApply(runs) == id {
		vals = st.Validations
	}
	data := views.ReportOf(run, runs, vals, time.Now().UTC())
	var b bytes.Buffer
	if *md {
		err = views.ReportMarkdown(&b, data)
	} else {
		err = views.Report(&b, data)
	}
	if err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	if *md && *out == "" {
		_, err := c.stdout.Write(b.Bytes())
		return err
	}
	path := *out
	if path == "" {
		path = fmt.Sprintf("pgferry-report-%s-%d.html", s.m.Name, id)
	}
	if err := writeFileAtomic(path, b.Bytes()); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	c.view().ReportWritten(path, data)
	return nil
}

// latestApply is the id of the latest apply among runs (0: none).
func latestApply(runs []state.RunSummary) int {
	id := 0
	for _, r := range runs {
		if r.Operation == state.OpApply {
			id = max(id, r.ID)
		}
	}
	return id
}

// writeFileAtomic writes data to path through a temporary file in the same directory.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pgferry-report-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
