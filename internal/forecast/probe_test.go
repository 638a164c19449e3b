package forecast_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/forecast"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/plan"
)

// TestProbe: on a small database (tables of several shapes, the largest with an enum column the
// target lacks until pre-data, so that the sample loads it as text; indexes, a foreign key), Probe measured as a target login that is no
// superuser (CREATEDB CREATEROLE, as on managed servers) prices every action of the plan above
// zero, leaves neither a table nor a session on the target, and fails with an error naming the
// server when the target cannot be reached.
func TestProbe(t *testing.T) {
	src, tgt := pgtest.Start(t, 15), pgtest.Start(t, 15)
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE DATABASE shop",
	} {
		if err := src.Exec(ctx, "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Exec(ctx, "shop", `
		CREATE TYPE mood AS ENUM ('ok', 'sad');
		CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, feeling mood);
		INSERT INTO customers SELECT i, 'customer ' || i, (ARRAY['ok', 'sad'])[i % 2 + 1]::mood FROM generate_series(1, 150000) i;
		CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, amount numeric(12, 2), note text);
		INSERT INTO orders SELECT i, i % 150000 + 1, i / 7.0, repeat('x', i % 50) FROM generate_series(1, 50000) i;
		CREATE INDEX ON orders (customer_id);
		CREATE TABLE empty (id int);
		CREATE SEQUENCE tickets;
		CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100;
		ANALYZE`); err != nil {
		t.Fatal(err)
	}
	const pw = "migrator-pw"
	if err := tgt.Exec(ctx, "postgres", "CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD '"+pw+"'"); err != nil {
		t.Fatal(err)
	}
	s := session(t, src, tgt.Port, "migrator", pw)
	snap, err := s.Inspect(ctx, app.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan(snap)
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.Tables < 3 || p.Summary.Indexes < 2 {
		t.Fatalf("plan: %d tables, %d indexes; want the source's", p.Summary.Tables, p.Summary.Indexes)
	}

	e, err := forecast.Probe(ctx, snap, p, 2)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if e.Basis != forecast.BasisModel || e.Run != 0 {
		t.Errorf("basis %q run %d, want %q 0", e.Basis, e.Run, forecast.BasisModel)
	}
	if len(e.Durations) != len(p.Actions) {
		t.Fatalf("%d durations for %d actions", len(e.Durations), len(p.Actions))
	}
	for i, a := range p.Actions {
		if e.Durations[i] <= 0 {
			t.Errorf("%s: duration %s, want above zero", a.Address, e.Durations[i])
		}
	}
	if e.Fixed <= 0 {
		t.Errorf("Fixed %s, want above zero (pg_dump of the schema at least)", e.Fixed)
	}
	if e.Spread < 0.2 || e.Spread > 0.8 {
		t.Errorf("Spread %.2f, want a model's honest range (0.2–0.8)", e.Spread)
	}
	// The largest table's copy costs more than the empty one's.
	customers, empty := p.Action(plan.TableAddr("shop", "public", "customers")), p.Action(plan.TableAddr("shop", "public", "empty"))
	if customers == nil || empty == nil {
		t.Fatal("plan has no copy of customers or empty")
	}
	if d := e.Durations; d[index(p, customers)] <= d[index(p, empty)] {
		t.Errorf("customers' copy %s, empty's %s: want the larger table dearer", d[index(p, customers)], d[index(p, empty)])
	}

	// The sample is the largest table's own rows, its enum column loaded as text.
	r, err := forecast.Measure(ctx, snap, p, 1)
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	if r.Generic || r.SampleRows == 0 || r.CopyRate <= 0 || r.IndexRow <= 0 || r.Streams != 1 {
		t.Errorf("measures %+v: want a sample of the plan's rows, one stream", r)
	}
	// With jobs = 3, two more pairs of sessions (opened while the sample is measured) copy beside
	// the sample's: three streams; they too are closed and leave nothing (below).
	if r, err = forecast.Measure(ctx, snap, p, 3); err != nil {
		t.Fatalf("Measure, 3 jobs: %v", err)
	}
	if r.Streams != 3 || r.Contention < 1 || r.Connect <= 0 || r.SourceRTT <= 0 || r.TargetRTT <= 0 {
		t.Errorf("measures %+v: want three streams, a connection's time and both round trips", r)
	}

	// Sessions opened ahead while other work ran (Predial, jobs > 1) are the ones the probe
	// measures on: taken, not opened again, and closed with the probe's.
	if forecast.Predial(ctx, snap, p, 1) != nil {
		t.Error("Predial with one job: want no sessions opened ahead (their opening time prices the run's sessions)")
	}
	ss := forecast.Predial(ctx, snap, p, 2)
	if r, err = forecast.Measure(forecast.WithSessions(ctx, ss), snap, p, 2); err != nil {
		t.Fatalf("Measure on sessions opened ahead: %v", err)
	}
	if !forecast.SessionsTaken(ss) || r.Streams != 2 || r.Connect <= 0 || r.CopyRate <= 0 {
		t.Errorf("measures %+v on sessions opened ahead (taken %v): want them taken, two streams, a connection's time", r, forecast.SessionsTaken(ss))
	}
	ss.Close() // taken: the probe closed them already
	// Opened ahead and never taken (the forecast came from elsewhere): Close closes them.
	forecast.Predial(ctx, snap, p, 2).Close()

	// Nothing left on the target: no table of the probe, no session of the login.
	left := func() string {
		rows, err := tgt.Query(ctx, "postgres", `SELECT (SELECT count(*) FROM pg_stat_activity WHERE usename = 'migrator') || ' ' ||
			(SELECT count(*) FROM pg_class WHERE relname LIKE 'pgferry_probe%')`)
		if err != nil {
			t.Fatal(err)
		}
		return rows[0][0]
	}
	got := left()
	for deadline := time.Now().Add(10 * time.Second); got != "0 0" && time.Now().Before(deadline); got = left() {
		time.Sleep(100 * time.Millisecond) // a closed session's backend exits a moment later
	}
	if got != "0 0" {
		t.Errorf("left on the target (sessions of the login, probe tables): %s, want 0 0", got)
	}
	rows, err := tgt.Query(ctx, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'")
	if err != nil || rows[0][0] != "0" {
		t.Errorf("the probe created database shop on the target (%v, %v)", rows, err)
	}

	// A plan of tiny tables: the sample (one row) copies in its fixed cost, so the copy rate is
	// measured on generated rows; the statements are timed pipelined.
	if err := src.Exec(ctx, "shop", "TRUNCATE orders, customers; INSERT INTO customers VALUES (1, 'one', 'ok'); ANALYZE"); err != nil {
		t.Fatal(err)
	}
	if snap, err = s.Inspect(ctx, app.InspectOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err = s.Plan(snap); err != nil {
		t.Fatal(err)
	}
	if r, err = forecast.Measure(ctx, snap, p, 1); err != nil {
		t.Fatalf("Measure, tiny tables: %v", err)
	}
	if r.Generic || r.SampleRows != 1 || r.CopyRate <= 0 || r.Statement <= 0 || r.SmallCopy <= 0 {
		t.Errorf("measures of tiny tables %+v: want the one row sampled, a copy rate, a statement's time", r)
	}

	// An unreachable target: an error that names it, not a panic.
	m := *snap.Migration
	down := *m.Target
	down.Port = 1
	m.Target = &down
	bad := *snap
	bad.Migration = &m
	if _, err := forecast.Probe(ctx, &bad, p, 2); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Probe with the target down: %v, want an error naming 127.0.0.1:1", err)
	}
	ss = forecast.Predial(ctx, &bad, p, 2)
	if _, err := forecast.Probe(forecast.WithSessions(ctx, ss), &bad, p, 2); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Probe on sessions opened ahead with the target down: %v, want an error naming 127.0.0.1:1", err)
	}
	ss.Close()
}

// TestProbeSampleAsCopied: the probe's sample of the largest table crosses as apply's copy of it
// will (the source's log shows the COPY): its character(n) column cast to text, without its
// padding (a quarter of the bytes here), in binary, or in text when the plan copies the table in
// text; its copy rate is still measured on the table's own rows.
func TestProbeSampleAsCopied(t *testing.T) {
	src, tgt := pgtest.Start(t, 15, pgtest.WithConf("log_statement", "all")), pgtest.Start(t, 15)
	ctx := context.Background()
	if err := src.Exec(ctx, "postgres", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "shop", `
		CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler character(84));
		INSERT INTO accounts SELECT i, i / 1000, 0, '' FROM generate_series(1, 60000) i;
		CREATE TABLE branches (bid int PRIMARY KEY, filler character(88));
		INSERT INTO branches SELECT i, '' FROM generate_series(1, 60) i;
		ANALYZE`); err != nil {
		t.Fatal(err)
	}
	s := session(t, src, tgt.Port, tgt.User, tgt.Password)
	snap, err := s.Inspect(ctx, app.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan(snap)
	if err != nil {
		t.Fatal(err)
	}
	accounts := p.Action(plan.TableAddr("shop", "public", "accounts"))
	if accounts == nil {
		t.Fatal("plan has no copy of accounts")
	}
	copies := func() []string {
		t.Helper()
		b, err := os.ReadFile(src.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if _, stmt, ok := strings.Cut(l, "statement: "); ok && strings.Contains(stmt, `FROM ONLY "public"."accounts"`) {
				out = append(out, stmt)
			}
		}
		return out
	}
	for _, format := range []string{"binary", "text"} {
		accounts.CopyFormat = format
		before := len(copies())
		r, err := forecast.Measure(ctx, snap, p, 1)
		if err != nil {
			t.Fatalf("Measure (%s): %v", format, err)
		}
		sent := copies()[before:]
		if len(sent) == 0 {
			t.Fatalf("%s: no COPY of accounts in the source's log", format)
		}
		for _, stmt := range sent {
			trim := `"filler"::pg_catalog.text`
			if format == "binary" {
				trim = `pg_catalog.rtrim(pg_catalog.bpcharsend("filler"), '\x20'::pg_catalog.bytea)`
			}
			if !strings.Contains(stmt, trim) || !strings.Contains(stmt, "FORMAT "+format+")") {
				t.Errorf("%s: the sample was read as %q, want filler as %s, in %s", format, stmt, trim, format)
			}
		}
		// Padded, the sample's rows cross in about the bytes the table holds them in.
		if r.Generic || r.SampleRows == 0 || r.CopyRate <= 0 || r.WireRatio <= 0 || r.WireRatio > 0.4 {
			t.Errorf("%s: measures %+v: want the table's own rows, sent in under 0.4 bytes per byte of table", format, r)
		}
	}
}

func index(p *plan.Plan, a *plan.Action) int {
	for i, x := range p.Actions {
		if x == a {
			return i
		}
	}
	return -1
}

// session configures a migration of database shop from src to the target on port tgtPort as
// user, and opens it.
func session(t *testing.T, src *pgtest.Cluster, tgtPort int, user, password string) *app.Session {
	t.Helper()
	dir := t.TempDir()
	hcl := fmt.Sprintf(`source "src" {
  host = "127.0.0.1"
  port = %d
  user = %q
  password = %q
  sslmode = "disable"
}
target "tgt" {
  host = "127.0.0.1"
  port = %d
  user = %q
  password = %q
  sslmode = "disable"
}
migration "m" {
  source = source.src
  target = target.tgt
  databases = ["shop"]
  options {
    jobs = 2
  }
}
`, src.Port, src.User, src.Password, tgtPort, user, password)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Inputs{})
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	s, err := app.Open(context.Background(), cfg, "m", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
