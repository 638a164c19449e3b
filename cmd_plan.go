package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/english"
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
}

func (s *session) close() { s.app.Close() }

// open loads the configuration, picks the migration and opens the state backend.
func (c *cli) open(ctx context.Context, v varFlags) (*session, int) {
	cfg, ok := c.load(v)
	if !ok {
		return nil, 1
	}
	a, err := app.Open(ctx, cfg, v.migration, version)
	if err != nil {
		c.errorf(cfg.Secrets(), "%v", err)
		return nil, 1
	}
	return &session{app: a, cfg: a.Config, m: a.Migration, secrets: a.Secrets, backend: a.Backend}, 0
}

// inspect connects to both servers and reads their catalogs and the state (app.Inspect).
func (c *cli) inspect(ctx context.Context, s *session) int {
	var opt app.InspectOptions
	if s.prefetch {
		opt.Prefetch = func(snap *snapshot.Snapshot, db string) {
			s.prefetched = apply.StartPrefetch(ctx, s.m, snap.Tools, db, snap.Source.VersionNum, apply.FloatDigits(snap.Source.VersionNum, snap.Target.VersionNum), s.tmpDir)
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

func cmdPlan(c *cli, args []string) int {
	fs := newFlags("plan")
	var v varFlags
	v.register(fs, true)
	out := fs.String("out", "", "save the plan to FILE, to apply exactly it with pgferry apply FILE")
	jsonOut := fs.Bool("json", false, "print the plan as one JSON document")
	markdown := fs.Bool("markdown", false, "print the plan as a pull-request comment (Markdown)")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	if code, done := c.parse(fs, args, "plan [--out FILE] [--json] [--markdown] [--detailed-exitcode] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	if *jsonOut && *markdown {
		c.errorf(nil, "--json and --markdown cannot be used together")
		return 1
	}
	if code := c.inspect(ctx, s); code != 0 {
		if s.connErr != nil && (*jsonOut || *markdown) {
			// A program or a pull request still gets its document: the connectivity validation
			// failed, and nothing else could be checked.
			c.renderUnreachable(s, *jsonOut)
		} else if s.connErr != nil {
			c.connectivityFailed()
		}
		return code
	}
	if code := c.makePlan(s); code != 0 {
		return code
	}
	p := s.plan
	quiet := *jsonOut || *markdown
	switch {
	case *jsonOut:
		b, err := views.PlanJSON(p)
		if err != nil {
			c.errorf(s.secrets, "rendering the plan: %v", err)
			return 1
		}
		c.stdout.Write(append(b, '\n'))
	case *markdown:
		views.Markdown(c.stdout, p)
	default:
		views.Plan(c.stdout, p)
	}
	if *out != "" && !p.ValidationFailed() {
		// As terraform, a plan that failed is not saved: there is nothing apply could do with it.
		if err := writePlanFile(*out, p); err != nil {
			c.errorf(s.secrets, "saving the plan: %v", err)
			return 1
		}
		if !quiet {
			fmt.Fprintf(c.stdout, "Saved the plan to: %s\n\nTo perform exactly these actions, run:\n    pgferry apply %q\n", *out, *out)
		}
	} else if !quiet && p.HasChanges() && !p.ValidationFailed() {
		fmt.Fprintln(c.stdout, "Note: You didn't use the --out option to save this plan, so pgferry can't guarantee to take exactly these actions if you run \"pgferry apply\" now.")
	}
	if p.ValidationFailed() {
		if !quiet {
			saved := ""
			if *out != "" {
				saved = fmt.Sprintf(" The plan was not saved to %s.", *out)
			}
			c.errorf(nil, "Validation failed: %s failed; fix %s and plan again.%s", english.Count(p.Summary.Failed, "check"), english.Verb(p.Summary.Failed, "it", "them"), saved)
		}
		return 1
	}
	if *detailed && p.HasChanges() {
		return 2
	}
	return 0
}

// connectivityFailed says, after the connection error, what it means for the plan: connectivity
// is the first validation, and nothing else could be checked.
func (c *cli) connectivityFailed() {
	fmt.Fprintln(c.stderr, "Validation failed: the connectivity check failed; nothing else was checked and nothing was changed.")
}

// unreachablePlan is the plan of a migration whose servers could not all be reached: no actions,
// and the connectivity validation Failed with the cause.
func unreachablePlan(s *session) *plan.Plan { return s.app.UnreachablePlan(s.snap, s.connErr) }

// renderUnreachable prints, as JSON or Markdown, the plan of a migration whose servers could not
// all be reached: no actions, and the connectivity validation Failed with the cause.
func (c *cli) renderUnreachable(s *session, asJSON bool) {
	p := unreachablePlan(s)
	if !asJSON {
		views.Markdown(c.stdout, p)
		return
	}
	b, err := views.PlanJSON(p)
	if err != nil {
		c.errorf(s.secrets, "rendering the plan: %v", err)
		return
	}
	c.stdout.Write(append(b, '\n'))
}
