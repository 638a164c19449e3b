package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/checks"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/plan/planfile"
	"github.com/pgferry/pgferry/state"
)

// configure writes main.hcl (servers, migrations) in a new directory, loads it and opens the
// migration named; the state backend is the default local one in that directory.
func configure(t *testing.T, hcl, migration string) *Session {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Inputs{})
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	s, err := Open(context.Background(), cfg, migration, "9.9.9-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func server(kind, name, host string, port int, password string) string {
	return fmt.Sprintf("%s %q {\n  host = %q\n  port = %d\n  user = \"postgres\"\n  password = %q\n  sslmode = \"disable\"\n}\n", kind, name, host, port, password)
}

// Nothing listens on 127.0.0.1:1 and :2 (source and target may not be the same server).
const closedPort, closedPort2 = 1, 2

func TestOpen(t *testing.T) {
	hcl := server("source", "src", "127.0.0.1", closedPort, "s3cret-src") + server("target", "tgt", "127.0.0.1", closedPort2, "s3cret-tgt") +
		"migration \"m\" {\n  source = source.src\n  target = target.tgt\n  databases = [\"app\"]\n}\n"
	s := configure(t, hcl, "")
	if s.Migration.Name != "m" || s.Backend == nil || s.ToolVersion != "9.9.9-test" {
		t.Errorf("Open: migration %q, backend %v, version %q", s.Migration.Name, s.Backend, s.ToolVersion)
	}
	if got := s.Redact("password s3cret-src and s3cret-tgt"); strings.Contains(got, "s3cret") {
		t.Errorf("Redact left a secret: %q", got)
	}
	if _, err := Open(context.Background(), s.Config, "nope", "x"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Open of an unknown migration: %v", err)
	}
}

// TestUnreachable: with neither server reachable, Inspect fails with the source's ReadError and
// leaves the state it read; the plan of the unreachable migration fails connectivity with the
// cause and no secret; a refused apply records Validation failed.
func TestUnreachable(t *testing.T) {
	hcl := server("source", "src", "127.0.0.1", closedPort, "s3cret-src") + server("target", "tgt", "127.0.0.1", closedPort2, "s3cret-tgt") +
		"migration \"m\" {\n  source = source.src\n  target = target.tgt\n  databases = [\"app\"]\n}\n"
	s := configure(t, hcl, "m")
	ctx := context.Background()
	snap, err := s.Inspect(ctx, InspectOptions{Prefetch: func(*snapshot.Snapshot, string, *pgx.Conn) func() (*catalog.Database, error) {
		t.Error("prefetch called")
		return nil
	}})
	re, ok := errors.AsType[*ReadError](err)
	if !ok || re.Server != s.Migration.Source || re.Database != "" {
		t.Fatalf("Inspect: %v (%#v), want the source's ReadError", err, re)
	}
	if !strings.Contains(err.Error(), `source "src" (127.0.0.1:1)`) {
		t.Errorf("the error does not say which server failed: %v", err)
	}
	if snap == nil || snap.Source != nil || snap.State != nil || snap.Migration != s.Migration {
		t.Fatalf("snapshot after the failure: %+v", snap)
	}
	p := s.UnreachablePlan(snap, errors.New(err.Error()+" (password s3cret-src)"))
	if p.Databases == nil || len(p.Actions) != 0 || !p.ValidationFailed() || p.Summary.Failed != 1 {
		t.Errorf("unreachable plan: %+v", p)
	}
	if v := p.Validations[0]; v.ID != "connectivity" || v.Outcome != checks.Failed || strings.Contains(v.Message, "s3cret") || !strings.Contains(v.Message, "127.0.0.1:1") {
		t.Errorf("connectivity validation: %+v", v)
	}
	if p.ToolVersion != "9.9.9-test" || p.Source.Host != "127.0.0.1" || p.Source.Port != closedPort || p.Target.Name != "tgt" || p.ConfigFingerprint == "" || p.CreatedAt.IsZero() {
		t.Errorf("stamp: version %q, source %+v, target %+v, config %q, at %v", p.ToolVersion, p.Source, p.Target, p.ConfigFingerprint, p.CreatedAt)
	}
	if err := s.RecordValidationFailed(ctx, snap, p); err != nil {
		t.Fatal(err)
	}
	st, err := s.Backend.Read(ctx, "m")
	if err != nil || st == nil {
		t.Fatalf("state after a refused apply: %v, %v", st, err)
	}
	if st.Status != state.StatusValidationFailed || st.Error != "1 validation failed" || st.MigrationType != "PostgreSQL to PostgreSQL" ||
		st.ToolVersion != "9.9.9-test" || st.Source.Port != closedPort || len(st.Validations) != 1 {
		t.Errorf("state after a refused apply: %+v", st)
	}
}

// TestRecordRollback: the rollback's outcome reaches the state through its status transitions,
// with one line per failed step, and the counts of what was dropped and put back.
func TestRecordRollback(t *testing.T) {
	hcl := server("source", "src", "127.0.0.1", closedPort, "") + server("target", "tgt", "127.0.0.1", closedPort2, "") +
		"migration \"m\" {\n  source = source.src\n  target = target.tgt\n  databases = [\"app\"]\n}\n"
	ctx := context.Background()
	drop := &plan.UndoStep{Address: "role.app", Kind: plan.Delete}
	reset := &plan.UndoStep{Address: "server_parameter.work_mem", Kind: plan.Update}
	inUse := &plan.UndoStep{Address: "database.app", Kind: plan.Delete}
	left := &plan.UndoStep{Address: "role.reader", Kind: plan.Delete}
	for _, tc := range []struct {
		name     string
		results  []apply.StepResult
		cancel   bool
		status   state.Status
		err      string
		failures int
	}{
		{"destroyed", []apply.StepResult{{Step: drop, Ran: true}, {Step: reset, Ran: true}}, false, "", "", 0},
		{"canceled", []apply.StepResult{{Step: drop, Ran: true}, {Step: reset, Ran: true}}, true, state.StatusCanceled, "", 0},
		{"incomplete", []apply.StepResult{{Step: drop, Ran: true}, {Step: reset, Ran: true}, {Step: inUse, Ran: true, Err: errors.New("database is in use")}, {Step: left}},
			false, state.StatusFailed, "rollback incomplete: database.app: database is in use; role.reader: not attempted (interrupted)", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := configure(t, hcl, "m")
			st := state.New("m")
			st.Status = state.StatusSucceeded
			r, err := s.RecordRollback(ctx, st, &plan.DestroyPlan{}, tc.results, tc.cancel)
			if err != nil {
				t.Fatal(err)
			}
			if r.Destroyed != 1 || r.Changed != 1 || len(r.Failures) != tc.failures {
				t.Errorf("rollback: %+v", r)
			}
			got, err := s.Backend.Read(ctx, "m")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.status || got.Error != tc.err || got.DestroyedAt.IsZero() || got.Baseline != nil {
				t.Errorf("state: status %q, error %q, destroyed at %v, baseline %v", got.Status, got.Error, got.DestroyedAt, got.Baseline)
			}
		})
	}
}

// TestInspect reads a source and a target that both hold database app with two tables: the databases selected, the source
// filtered by the table filters once, the prefetch hook called for the first unfinished database,
// and a plan with both catalogs' fingerprints. An unreachable target fails with its ReadError.
func TestInspect(t *testing.T) {
	c, tc := pgtest.Start(t, 15), pgtest.Start(t, 15)
	ctx := context.Background()
	for _, srv := range []*pgtest.Cluster{c, tc} {
		if err := srv.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
			t.Fatal(err)
		}
		if err := srv.Exec(ctx, "app", "CREATE TABLE kept (id int PRIMARY KEY); CREATE TABLE dropped (id int)"); err != nil {
			t.Fatal(err)
		}
	}
	hcl := server("source", "src", c.Host, c.Port, c.Password) + server("target", "tgt", tc.Host, tc.Port, tc.Password) +
		server("target", "closed", "127.0.0.1", closedPort, "") +
		"migration \"m\" {\n  source = source.src\n  target = target.tgt\n  databases = [\"app\"]\n  options {\n    include_tables = [\"public.kept\"]\n  }\n}\n" +
		"migration \"down\" {\n  source = source.src\n  target = target.closed\n  databases = [\"app\"]\n}\n"
	s := configure(t, hcl, "m")
	var prefetched []string
	snap, err := s.Inspect(ctx, InspectOptions{Prefetch: func(snap *snapshot.Snapshot, db string, conn *pgx.Conn) func() (*catalog.Database, error) {
		if snap.Source == nil || snap.Tools == nil {
			t.Error("prefetch called before the instances and tools were known")
		}
		// The session that counted the database's relations is handed over, idle, in that database.
		var current string
		if conn == nil {
			t.Error("prefetch called without the session that counted its relations")
		} else if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil || current != db {
			t.Errorf("the counting session handed over is in database %q (%v), want %q", current, err, db)
		}
		if conn != nil {
			conn.Close(ctx)
		}
		prefetched = append(prefetched, db)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(snap.Databases, ",") != "app" || snap.SourceDBs["app"] == nil || snap.TargetDBs["app"] == nil || snap.Tools == nil {
		t.Fatalf("snapshot: databases %v, source %v, target %v, tools %v (%v)", snap.Databases, snap.SourceDBs, snap.TargetDBs, snap.Tools, snap.ToolsErr)
	}
	var tables []string
	for _, tb := range snap.SourceDBs["app"].Tables {
		tables = append(tables, tb.Name)
	}
	if strings.Join(tables, ",") != "kept" || len(snap.TargetDBs["app"].Tables) != 2 {
		t.Errorf("source tables %v (want only kept: filtered), target tables %d (want 2: not filtered)", tables, len(snap.TargetDBs["app"].Tables))
	}
	if strings.Join(prefetched, ",") != "app" {
		t.Errorf("prefetch called for %v, want [app]", prefetched)
	}
	p, err := s.Plan(snap)
	if err != nil {
		t.Fatal(err)
	}
	if p.SourceFingerprint == "" || p.TargetFingerprint == "" || p.SourceDigest["database app: table public.kept"] == "" || p.SourceDigest["database app: table public.dropped"] != "" {
		t.Errorf("plan digests: source %v", p.SourceDigest)
	}
	if p.Source.SystemIdentifier == "" || p.Source.VersionNum.Major() != 15 || p.ToolVersion != "9.9.9-test" {
		t.Errorf("plan stamp: %+v %q", p.Source, p.ToolVersion)
	}

	// The early count sizes the largest table as the catalog read does (startLink decides by it).
	if err := c.Exec(ctx, "app", "INSERT INTO dropped SELECT generate_series(1, 20000)"); err != nil {
		t.Fatal(err)
	}
	count := &earlyCount{db: "app", done: make(chan struct{})}
	count.count(ctx, s.Migration.Source, true)
	close(count.done)
	count.release()
	largest := count.largest
	if count.err != nil {
		t.Fatal(count.err)
	}
	conn, err := pgconn.Connect(ctx, s.Migration.Source, "app")
	if err != nil {
		t.Fatal(err)
	}
	whole, err := catalog.ReadDatabase(ctx, conn, "app", snap.Source.VersionNum)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	for _, tb := range whole.Tables {
		want = max(want, tb.CopySize())
	}
	if largest != want || want < 8192*10 {
		t.Errorf("early count sized the largest table %d bytes, the catalog read %d", largest, want)
	}

	down, err := Open(ctx, s.Config, "down", "x")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	snap, err = down.Inspect(ctx, InspectOptions{})
	if re, ok := errors.AsType[*ReadError](err); !ok || re.Server != down.Migration.Target {
		t.Fatalf("Inspect with the target down: %v, want the target's ReadError", err)
	}
	if snap.Source == nil || snap.Target != nil {
		t.Errorf("after the target failed, the snapshot holds the source's catalog: %v, %v", snap.Source, snap.Target)
	}
}

// TestInspectPrefetchedCatalog: when the prefetch reads the first database's catalog in its
// snapshot, Inspect plans from that read instead of reading the database again: the plan's source
// catalog is the one the run holds, and the plan is the one a separate read makes (same digests:
// a saved plan is not stale against it). A prefetch whose catalog cannot be read leaves Inspect
// to read the database itself.
func TestInspectPrefetchedCatalog(t *testing.T) {
	c, tc := pgtest.Start(t, 15), pgtest.Start(t, 15)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "app", `CREATE TABLE a (id int PRIMARY KEY, d date DEFAULT '2024-03-01', f float8 CHECK (f > 0.1));
		CREATE TABLE b (id int REFERENCES a, t timestamptz DEFAULT '2024-03-01 12:00+00'); CREATE INDEX ON b (t) WHERE t > '2024-01-01'`); err != nil {
		t.Fatal(err)
	}
	hcl := server("source", "src", c.Host, c.Port, c.Password) + server("target", "tgt", tc.Host, tc.Port, tc.Password) +
		"migration \"m\" {\n  source = source.src\n  target = target.tgt\n  databases = [\"app\"]\n}\n"
	s := configure(t, hcl, "m")
	alone, err := s.Inspect(ctx, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Plan(alone)
	if err != nil {
		t.Fatal(err)
	}
	var pf *apply.Prefetch
	defer func() { pf.Close() }()
	var held *catalog.Database
	snap, err := s.Inspect(ctx, InspectOptions{Prefetch: func(snap *snapshot.Snapshot, db string, conn *pgx.Conn) func() (*catalog.Database, error) {
		pf = apply.StartPrefetch(ctx, s.Migration, snap.Tools, db, snap.Source.VersionNum, apply.FloatDigits(snap.Source.VersionNum, snap.Target.VersionNum), t.TempDir(), conn)
		return func() (*catalog.Database, error) {
			d, err := pf.Catalog()
			held = d
			return d, err
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if held == nil || snap.SourceDBs["app"] != held {
		t.Fatalf("the plan's source catalog is not the prefetch's (%p, %p)", snap.SourceDBs["app"], held)
	}
	got, err := s.Plan(snap)
	if err != nil {
		t.Fatal(err)
	}
	if reason := planfile.Stale(want, got); reason != "" {
		t.Errorf("the plan made from the prefetch's read differs from one made from a read of its own: %s", reason)
	}
	if len(got.SourceDigest) == 0 || fmt.Sprint(got.SourceDigest) != fmt.Sprint(want.SourceDigest) {
		t.Errorf("source digests differ:\nown read  %v\nprefetch  %v", want.SourceDigest, got.SourceDigest)
	}
	// A prefetch that cannot read: Inspect reads the database itself.
	failed := 0
	snap, err = s.Inspect(ctx, InspectOptions{Prefetch: func(_ *snapshot.Snapshot, _ string, conn *pgx.Conn) func() (*catalog.Database, error) {
		if conn != nil {
			conn.Close(ctx)
		}
		return func() (*catalog.Database, error) { failed++; return nil, errors.New("no snapshot") }
	}})
	if err != nil || failed != 1 || snap.SourceDBs["app"] == nil || len(snap.SourceDBs["app"].Tables) != 2 {
		t.Fatalf("prefetch read failed: Inspect %v, reader called %d times, source %v", err, failed, snap.SourceDBs)
	}
}

// TestStartLink: the links are measured for copy_format = "auto" at once, unless an early count of
// the migration's only database sized its tables: then only when one of them may be sampled
// (plan.CopySampleMinBytes), or when the count could not size them.
func TestStartLink(t *testing.T) {
	defer func(saved func(context.Context, *config.Migration) *apply.LinkMeasure) { startLinkMeasure = saved }(startLinkMeasure)
	started := 0
	startLinkMeasure = func(context.Context, *config.Migration) *apply.LinkMeasure { started++; return nil }
	counted := func(db string, largest int64, err error) *earlyCount {
		c := &earlyCount{db: db, done: make(chan struct{}), largest: largest, err: err}
		close(c.done)
		return c
	}
	for _, tc := range []struct {
		name     string
		dbs      []string
		counting *earlyCount
		want     int
	}{
		{"no early count", []string{"a"}, nil, 1},
		{"small tables", []string{"a"}, counted("a", plan.CopySampleMinBytes-1, nil), 0},
		{"a table sampled", []string{"a"}, counted("a", plan.CopySampleMinBytes, nil), 1},
		{"not sized", []string{"a"}, counted("a", -1, nil), 1},
		{"count failed", []string{"a"}, counted("a", 0, errors.New("refused")), 1},
		{"other databases", []string{"a", "b"}, counted("a", 0, nil), 1},
	} {
		started = 0
		startLink(context.Background(), &config.Migration{Databases: tc.dbs}, tc.counting).take()
		if started != tc.want {
			t.Errorf("%s: link measures started %d, want %d", tc.name, started, tc.want)
		}
	}
}

// TestCountEarly: the database a prefetch opens is guessed before the source's instance is read
// only when the migration names its databases: the first one the state does not show finished, as
// snapshot.FirstUnfinished picks it; its count is handed over only for that database.
func TestCountEarly(t *testing.T) {
	ctx := context.Background()
	down := &config.Server{Kind: "source", Name: "src", Host: "127.0.0.1", Port: 1, User: "u", SSLMode: "disable"}
	done := &state.State{Actions: []*state.Action{{Address: "database.a", Database: "a", Status: state.ActionApplied}}}
	for _, tc := range []struct {
		dbs  []string
		st   *state.State
		want string // "": no guess
	}{
		{[]string{"*"}, nil, ""},
		{[]string{"a", "b"}, nil, "a"},
		{[]string{"a", "b"}, done, "b"},
		{[]string{"a"}, done, ""},
	} {
		c := countEarly(ctx, &config.Migration{Source: down, Databases: tc.dbs}, tc.st, true)
		if got := ""; c != nil {
			got = c.db
			if got != tc.want {
				t.Errorf("databases %v: counts %q early, want %q", tc.dbs, got, tc.want)
			}
			if counts, err := c.of(c.db); counts != nil || err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("databases %v: count %v, %v: want the failure to reach the server", tc.dbs, counts, err)
			}
			if counts, err := c.of("other"); counts != nil || err != nil {
				t.Errorf("databases %v: count of another database %v, %v: want none (the caller counts)", tc.dbs, counts, err)
			}
		} else if tc.want != "" {
			t.Errorf("databases %v: no early count, want one of %q", tc.dbs, tc.want)
		}
	}
	var none *earlyCount
	if counts, err := none.of("a"); counts != nil || err != nil {
		t.Errorf("no early count: %v, %v", counts, err)
	}
}
