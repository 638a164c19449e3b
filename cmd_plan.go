package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/checks"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// session is what plan, apply and verify learn about a migration before acting.
type session struct {
	cfg      *config.Config
	m        *config.Migration
	secrets  []string
	backend  state.Backend
	st       *state.State
	src, tgt *catalog.Instance
	dbs      []string
	srcDBs   map[string]*catalog.Database
	tgtDBs   map[string]*catalog.Database
	tools    *pgdump.Tools
	toolsErr error
	plan     *plan.Plan
	// prefetch (apply without approval) asks inspect to start opening the first database's source
	// (snapshot, pg_dump) while it reads the catalogs; prefetched is that, to close after apply.
	prefetch   bool
	prefetched *apply.Prefetch
	// tmpDir is apply's work directory for temporary files (internal/workdir).
	tmpDir string
	// connErr is why a server (or one of its databases) could not be reached or logged into.
	connErr error
}

func (s *session) close() {
	if s.backend != nil {
		s.backend.Close()
	}
}

// open loads the configuration, picks the migration and opens the state backend.
func (c *cli) open(ctx context.Context, v varFlags) (*session, int) {
	cfg, ok := c.load(v)
	if !ok {
		return nil, 1
	}
	s := &session{cfg: cfg, secrets: cfg.Secrets()}
	m, err := cfg.Migration(v.migration)
	if err != nil {
		c.errorf(s.secrets, "%v", err)
		return nil, 1
	}
	s.m = m
	b := cfg.Backend
	path := b.Path
	if path == "" {
		path = ".pgferry"
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(cfg.Dir, path)
	}
	s.backend, err = state.Open(ctx, b.Type, path, b.ConnStr, b.Schema)
	if err != nil {
		c.errorf(s.secrets, "opening the state backend: %v", err)
		return nil, 1
	}
	return s, 0
}

// inspect connects to both servers and reads their catalogs and the state.
func (c *cli) inspect(ctx context.Context, s *session) int {
	var err error
	if s.st, err = s.backend.Read(ctx, s.m.Name); err != nil {
		c.errorf(s.secrets, "reading the state: %v", err)
		return 1
	}
	// Both servers are read at once, and then every database of both: the catalog reads are
	// round trips to two servers, and plan (and apply, which plans first) waits for all of them.
	// When several fail, the first in a fixed order (source before target) is reported.
	readInstance := func(srv *config.Server) (*catalog.Instance, error) {
		conn, err := apply.Connect(ctx, srv, "")
		if err != nil {
			return nil, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		in, err := catalog.ReadInstance(ctx, conn)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the catalog: %w", srv.Label(), err)
		}
		return in, nil
	}
	var srcErr, tgtErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.src, srcErr = readInstance(s.m.Source) }()
	go func() { defer wg.Done(); s.tgt, tgtErr = readInstance(s.m.Target) }()
	wg.Wait()
	if err := cmp.Or(srcErr, tgtErr); err != nil {
		if ctx.Err() != nil {
			return 1 // interrupted (Ctrl-C): the caller says so, not "context canceled"
		}
		s.connErr = err
		c.errorf(s.secrets, "%v", err)
		return 1
	}
	if s.dbs, err = plan.SelectDatabases(s.m, s.src); err != nil {
		c.errorf(s.secrets, "%v", err)
		return 1
	}
	s.tools, s.toolsErr = pgdump.Find(s.m.Options.PgBinDir, s.src.VersionNum.Release(), s.tgt.VersionNum.Release())
	// apply without a prompt opens the first unfinished database's source (snapshot, pg_dump) as
	// soon as its catalog shows that pg_dump's locks fit, while the rest is read and checked.
	prefetch := ""
	if s.prefetch && s.tools != nil {
		prefetch = firstUnfinished(s.st, s.dbs)
	}
	readDB := func(srv *config.Server, in *catalog.Instance, db string) (*catalog.Database, error) {
		conn, err := apply.Connect(ctx, srv, db)
		if err != nil {
			return nil, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		d, err := catalog.ReadDatabase(ctx, conn, db, in.VersionNum)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", srv.Label(), err)
		}
		if srv == s.m.Source && s.m.Options.Filters() {
			// Only the table_filters check needs what depends on each table: a pg_depend scan.
			if err := catalog.ReadDependents(ctx, conn, d, in.VersionNum); err != nil {
				return nil, fmt.Errorf("%s: reading dependencies on tables of %s: %w", srv.Label(), db, err)
			}
		}
		return d, nil
	}
	type read struct {
		srv *config.Server
		in  *catalog.Instance
		db  string
		out *catalog.Database
		err error
	}
	var reads []*read
	for _, db := range s.dbs {
		reads = append(reads, &read{srv: s.m.Source, in: s.src, db: db})
		if info := s.tgt.Database(db); info != nil && info.AllowConn {
			reads = append(reads, &read{srv: s.m.Target, in: s.tgt, db: db})
		}
	}
	sem := make(chan struct{}, 4) // a few connections per server at a time, not one per database
	for _, r := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r.out, r.err = readDB(r.srv, r.in, r.db)
			if r.err == nil && r.srv == s.m.Source && r.db == prefetch && checks.DumpFitsLocks(s.src, r.out) {
				s.prefetched = apply.StartPrefetch(ctx, s.m, s.tools, r.db, s.src.VersionNum, apply.FloatDigits(s.src.VersionNum, s.tgt.VersionNum), s.tmpDir)
			}
		}()
	}
	wg.Wait()
	s.srcDBs, s.tgtDBs = map[string]*catalog.Database{}, map[string]*catalog.Database{}
	for _, r := range reads {
		if r.err != nil {
			s.connErr = r.err
			c.errorf(s.secrets, "%v", r.err)
			return 1
		}
		if r.srv == s.m.Source {
			// Plan, checks and verify see the source as the table filters select it.
			s.srcDBs[r.db] = plan.FilterDatabase(s.m.Options, r.out)
		} else {
			s.tgtDBs[r.db] = r.out
		}
	}
	return 0
}

// firstUnfinished is the first of dbs whose migration the state does not show complete, or "".
func firstUnfinished(st *state.State, dbs []string) string {
	for _, db := range dbs {
		if !st.DatabaseComplete(db) {
			return db
		}
	}
	return ""
}

func identity(srv *config.Server, in *catalog.Instance) state.Identity {
	id := state.Identity{Name: srv.Name, Host: srv.Dialed(), Port: srv.Port, User: srv.User, Type: srv.Type}
	if in != nil {
		id.SystemIdentifier, id.Version, id.VersionNum = in.SystemIdentifier, strings.Fields(in.Version + " ")[0], in.VersionNum
	}
	return id
}

// digest hashes what a saved plan depends on, one entry per object (see catalog.Digest): each
// role with its memberships, the instance's databases, and every object of the selected ones.
// Password hashes enter one entry for all roles together, never one per role: a hash of one
// role's password hash would be a clue to guess it.
func digest(in *catalog.Instance, dbs map[string]*catalog.Database, names []string) map[string]string {
	out := map[string]string{}
	roles := map[string][]string{}
	var passwords []string
	for _, r := range in.Roles {
		roles[r.Name] = append(roles[r.Name], fmt.Sprintf("r %t %t %t %t %t %t %t %d %q %t %q %q", r.Superuser, r.Inherit, r.CreateRole,
			r.CreateDB, r.Login, r.Replication, r.BypassRLS, r.ConnLimit, r.ValidUntil, r.HasPassword,
			strings.Join(r.Config, "\x00"), r.Comment))
		passwords = append(passwords, fmt.Sprintf("%q %q", r.Name, r.PasswordHash))
	}
	for _, m := range in.Memberships {
		roles[m.Member] = append(roles[m.Member], fmt.Sprintf("m %q %t", m.Role, m.AdminOption))
	}
	for name, lines := range roles {
		sort.Strings(lines)
		out["role "+name] = hashLines(lines)
	}
	sort.Strings(passwords)
	out["role passwords"] = hashLines(passwords)
	for _, d := range in.Databases {
		out["database "+d.Name] = hashLines([]string{d.Owner, d.Encoding, d.Collate, d.Ctype})
	}
	for _, n := range names {
		if d := dbs[n]; d != nil {
			for k, v := range d.Digest() {
				out["database "+n+": "+k] = v
			}
		}
	}
	return out
}

// fingerprint hashes a digest whole.
func fingerprint(d map[string]string) string {
	lines := make([]string, 0, len(d))
	for k, v := range d {
		lines = append(lines, k+" "+v)
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func hashLines(lines []string) string {
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:digestLen]
}

// digestLen is the length of one digest entry in hex digits, as catalog.Digest's.
const digestLen = 12

// makePlan runs the validations and builds the plan.
func (c *cli) makePlan(s *session) int {
	vals := checks.Run(&checks.Input{Migration: s.m, Source: s.src, Target: s.tgt, Databases: s.dbs, SourceDBs: s.srcDBs,
		TargetDBs: s.tgtDBs, Tools: s.tools, ToolsErr: s.toolsErr, State: s.st})
	p, err := plan.Build(plan.Input{Migration: s.m, Source: s.src, Target: s.tgt, SourceDBs: s.srcDBs, TargetDBs: s.tgtDBs, State: s.st, Validations: vals})
	if err != nil {
		c.errorf(s.secrets, "%v", err)
		return 1
	}
	stamp(s, p)
	p.SourceDigest, p.TargetDigest = digest(s.src, s.srcDBs, s.dbs), digest(s.tgt, s.tgtDBs, s.dbs)
	p.SourceFingerprint, p.TargetFingerprint = fingerprint(p.SourceDigest), fingerprint(p.TargetDigest)
	p.Variables = s.cfg.NonSensitiveVars()
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
	ctx, s, end, err := c.begin(pre.v)
	if err != nil {
		return err
	}
	defer end()
	vt, err := viewType(*jsonOut, *markdown, "--json and --markdown cannot be used together")
	if err != nil {
		return err
	}
	view := views.NewPlan(vt, c.view())
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
	if err := view.Plan(p); err != nil {
		return err
	}
	if *out != "" && !p.ValidationFailed() {
		// As terraform, a plan that failed is not saved: there is nothing apply could do with it.
		if err := writePlanFile(*out, p); err != nil {
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

func writePlanFile(path string, p *plan.Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readPlanFile(path string) (*plan.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p plan.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s is not a pgferry plan file: %v", path, err)
	}
	if p.FormatVersion == "" || p.Migration == "" {
		return nil, fmt.Errorf("%s is not a pgferry plan file (no format_version or migration)", path)
	}
	if strings.Split(p.FormatVersion, ".")[0] != strings.Split(plan.FormatVersion, ".")[0] {
		return nil, fmt.Errorf("%s has plan format %s; this pgferry reads %s: plan again with this version", path, p.FormatVersion, plan.FormatVersion)
	}
	return &p, nil
}

// unreachablePlan is the plan of a migration whose servers could not all be reached: no actions,
// and the connectivity validation Failed with the cause.
func unreachablePlan(s *session) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Migration: s.m.Name, Databases: s.dbs,
		Validations: []state.Validation{checks.ConnectivityFailed(redact(s.connErr.Error(), s.secrets))}}
	if p.Databases == nil {
		p.Databases = []string{}
	}
	if s.st != nil {
		p.StateLineage, p.StateSerial = s.st.Lineage, s.st.Serial
	}
	stamp(s, p)
	p.Summary = plan.Summarize(nil, p.Validations)
	return p
}

// stamp sets what every plan document records of where and how it was made.
func stamp(s *session, p *plan.Plan) {
	p.ToolVersion = version
	p.CreatedAt = time.Now().UTC().Truncate(time.Second)
	p.ConfigFingerprint = s.m.Fingerprint()
	p.Source, p.Target = identity(s.m.Source, s.src), identity(s.m.Target, s.tgt)
}
