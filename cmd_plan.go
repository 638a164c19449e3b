package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/plan/planfile"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// session is what a command holds of a migration: app's session (the configuration, the
// migration, its state backend) under the names the commands use, and what it read and planned.
type session struct {
	app     *app.Session
	cfg     *config.Config    // app.Config
	m       *config.Migration // app.Migration
	secrets []string          // app.Secrets
	backend state.Backend     // app.Backend
	// snap is what inspect read (partly, after a failed read), plan what makePlan made of it.
	snap *snapshot.Snapshot
	plan *plan.Plan
	// prefetch (apply without approval) asks inspect to start opening the first database's source
	// (snapshot, pg_dump) while it reads the catalogs; prefetched is that, to close after apply.
	prefetch   bool
	prefetched *apply.Prefetch
	// tmpDir is apply's work directory for temporary files (internal/workdir).
	tmpDir string
	// connErr is why a server (or one of its databases) could not be reached or logged into.
	connErr error
	// locked is the state apply read once it held the lock (lockedRead: it did), which inspect
	// takes instead of reading it again.
	locked     *state.State
	lockedRead bool
	// sampleCopy: the plan made here is the one to be applied, so inspect samples the tables
	// copy_format = "auto" decides for (app.InspectOptions.SampleCopy).
	sampleCopy bool
}

func (s *session) close() { s.app.Close() }

// open loads the configuration, picks the migration and opens the state backend. Its error is
// errReported when the configuration's diagnostics were printed.
func (c *cli) open(ctx context.Context, v varFlags) (*session, error) {
	cfg, ok := c.load(v)
	if !ok {
		return nil, errReported
	}
	a, err := app.Open(ctx, cfg, v.migration, version)
	if err != nil {
		return nil, err // printed without the configuration's secrets (c.load set them)
	}
	return &session{app: a, cfg: a.Config, m: a.Migration, secrets: a.Secrets, backend: a.Backend}, nil
}

// inspect connects to both servers and reads their catalogs and the state (app.Inspect).
func (c *cli) inspect(ctx context.Context, s *session) int {
	opt := app.InspectOptions{State: s.locked, StateRead: s.lockedRead, SampleCopy: s.sampleCopy}
	if s.prefetch {
		opt.Prefetch = func(snap *snapshot.Snapshot, db string, conn *pgx.Conn) func() (*catalog.Database, error) {
			s.prefetched = apply.StartPrefetch(ctx, s.m, snap.Tools, db, snap.Source.VersionNum, apply.FloatDigits(snap.Source.VersionNum, snap.Target.VersionNum), s.tmpDir, conn)
			s.app.ProbeAfter = s.prefetched.Dumped() // the forecast measures after the dump, not beside it
			return s.prefetched.Catalog              // the plan is made from the catalog the run reads
		}
	}
	var err error
	s.snap, err = s.app.Inspect(ctx, opt)
	if err != nil {
		if ctx.Err() != nil {
			return 1 // interrupted (Ctrl-C): the caller says so, not "context canceled"
		}
		if _, ok := errors.AsType[*app.ReadError](err); ok {
			s.connErr = err
		}
		c.errorf(s.secrets, "%v", err)
		return 1
	}
	return 0
}

// makePlan runs the validations and builds the plan (app.Plan).
func (c *cli) makePlan(s *session) int {
	p, err := s.app.Plan(s.snap)
	if err != nil {
		c.errorf(s.secrets, "%v", err)
		return 1
	}
	s.plan = p
	return 0
}

func cmdPlan(c *cli, args []string) error {
	pre := newPreamble("plan", true)
	out := pre.fs.String("out", "", "save the plan to FILE, to apply exactly it with pgferry apply FILE")
	jsonOut := pre.fs.Bool("json", false, "print the plan as one JSON document")
	markdown := pre.fs.Bool("markdown", false, "print the plan as a pull-request comment (Markdown)")
	detailed := pre.fs.Bool("detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	if done, err := pre.parse(c, args, "plan [--out FILE] [--json] [--markdown] [--detailed-exitcode] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", -1, ""); done {
		return err
	}
	if pre.fs.NArg() > 0 {
		return fmt.Errorf("plan takes no arguments; got %q. To save the plan to a file, use --out FILE", pre.fs.Arg(0))
	}
	ctx, s, end, err := c.begin(pre.v)
	if err != nil {
		return err
	}
	defer end()
	vt, err := viewType(*jsonOut, *markdown, "--json and --markdown cannot be used together")
	if err != nil {
		return err
	}
	// The plan of 100,000 tables is 300,000 lines: written through a buffer, not a write(2) each
	// (flushed before anything else is said on stderr).
	buf := bufio.NewWriterSize(c.stdout, 64<<10)
	defer buf.Flush()
	pv := c.view()
	pv.Stdout = buf
	view := views.NewPlan(vt, pv)
	s.sampleCopy = true
	if code := c.inspect(ctx, s); code != 0 {
		if s.connErr != nil {
			// A program or a pull request still gets its document: the connectivity validation
			// failed, and nothing else could be checked.
			if err := view.Unreachable(unreachablePlan(s)); err != nil {
				return err
			}
		}
		return fromCode(code)
	}
	if code := c.makePlan(s); code != 0 {
		return fromCode(code)
	}
	p := s.plan
	s.app.Prefetch = true // the apply of this plan: apply PLANFILE, or apply --auto-approve
	s.app.Forecast(ctx, s.snap, p, s.m.Options.Jobs)
	if err := view.Plan(p); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	if *out != "" && !p.ValidationFailed() {
		// As terraform, a plan that failed is not saved: there is nothing apply could do with it.
		if err := planfile.Write(*out, p); err != nil {
			return fmt.Errorf("saving the plan: %w", err)
		}
		view.Saved(*out)
	} else if p.HasChanges() && !p.ValidationFailed() {
		view.NotSaved()
	}
	if p.ValidationFailed() {
		view.ValidationFailed(p, *out)
		return errReported
	}
	if *detailed && p.HasChanges() {
		return exitStatus(2)
	}
	return nil
}

// unreachablePlan is the plan of a migration whose servers could not all be reached: no actions,
// and the connectivity validation Failed with the cause.
func unreachablePlan(s *session) *plan.Plan { return s.app.UnreachablePlan(s.snap, s.connErr) }
