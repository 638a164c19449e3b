package pgtest_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pgferry/pgferry/internal/pgtest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestBinDir(t *testing.T) {
	for _, major := range []int{13, 15, 16, 17} {
		dir, err := pgtest.BinDir(major)
		if err != nil {
			t.Logf("PostgreSQL %d: %v", major, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
			t.Errorf("BinDir(%d) = %s without postgres: %v", major, dir, err)
		}
	}
	if _, err := pgtest.BinDir(3); err == nil {
		t.Error("BinDir(3) succeeded")
	}
	t.Setenv("PGFERRY_PG_CACHE", t.TempDir())
	if _, err := pgtest.BinDir(11); err == nil || !strings.Contains(err.Error(), "make pg-versions") {
		t.Errorf("BinDir(11) with an empty cache: %v, want an error naming make pg-versions", err)
	}
}

// TestCluster exercises a cluster's life cycle and helpers on each major
// the machine has.
func TestCluster(t *testing.T) {
	for _, major := range []int{15, 13} {
		t.Run(fmt.Sprint("pg", major), func(t *testing.T) {
			t.Parallel()
			c := pgtest.Start(t, major)
			ctx := ctx(t)
			if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
				t.Fatal(err)
			}
			err := c.Exec(ctx, "app", `
				CREATE TABLE t (id int PRIMARY KEY, v text, f float8, ts timestamptz);
				CREATE SEQUENCE s;
				INSERT INTO t VALUES (1, 'one', 0.1, '2024-01-01 00:00:00+00'), (2, NULL, 1e300, NULL), (3, 'drei ✓', -0.5, 'infinity');
				SELECT nextval('s')`)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := c.Query(ctx, "app", "SELECT id, v FROM t ORDER BY id; SELECT current_setting('server_version_num')::int / 10000")
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{{"1", "one"}, {"2", "NULL"}, {"3", "drei ✓"}, {fmt.Sprint(major)}}
			if fmt.Sprint(rows) != fmt.Sprint(want) {
				t.Errorf("Query = %v, want %v", rows, want)
			}
			if err := c.Exec(ctx, "app", "SELECT nope"); err == nil || !strings.Contains(err.Error(), "nope") {
				t.Errorf("Exec of a bad query: %v", err)
			}

			fp, err := c.Fingerprint(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			// Fixed data has a fixed fingerprint on every major.
			wantFP := "public.s last_value=1 is_called=true\npublic.t rows=3 sum=" + tinySum + "\n"
			if fp != wantFP {
				t.Errorf("Fingerprint =\n%s\nwant\n%s", fp, wantFP)
			}

			if dumpMajor, _ := pgtest.PgDumpMajor(); dumpMajor >= major {
				dump, err := c.SchemaDump(ctx, "app")
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []string{"CREATE TABLE public.t (", "CREATE SEQUENCE public.s", "ALTER TABLE ONLY public.t"} {
					if !strings.Contains(dump, s) {
						t.Errorf("SchemaDump lacks %q:\n%s", s, dump)
					}
				}
				if strings.Contains(dump, "\n--") || strings.Contains(dump, "\nSET ") || strings.Contains(dump, "\n\n\n") {
					t.Errorf("SchemaDump not normalised:\n%s", dump)
				}
			}

			// Data survives a restart and a crash.
			if err := c.Restart(); err != nil {
				t.Fatal(err)
			}
			if err := c.StopImmediate(); err != nil {
				t.Fatal(err)
			}
			if err := c.Exec(ctx, "app", "SELECT 1"); err == nil {
				t.Error("query on a stopped server succeeded")
			}
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if fp2, err := c.Fingerprint(ctx, "app"); err != nil || fp2 != fp {
				t.Errorf("after restart and crash: Fingerprint = %q, %v; want %q", fp2, err, fp)
			}
			if !strings.Contains(c.LogTail(), "database system is ready to accept connections") {
				t.Errorf("LogTail lacks the ready message:\n%s", c.LogTail())
			}

			// The recorded cluster can be found again by another process.
			l, err := pgtest.Load(c.Dir)
			if err != nil || l.Port != c.Port || l.Password != c.Password || l.DSN("app") != c.DSN("app") {
				t.Errorf("Load = %+v, %v; want %+v", l, err, c)
			}
		})
	}
}

// tinySum is the content hash of TestCluster's table: the same on every
// major, which is what makes fingerprints comparable across versions
// (checked independently: the sum of the first 8 bytes of md5 of each row
// text, read as signed big-endian integers).
const tinySum = "6716522756402854164"

func TestFingerprintIgnoresOrderButNotContent(t *testing.T) {
	c := pgtest.Start(t, 15)
	ctx := ctx(t)
	setup := `CREATE TABLE a (id int, v jsonb); CREATE MATERIALIZED VIEW m AS SELECT 1 AS x WITH NO DATA;`
	for _, db := range []string{"one", "two"} {
		if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		if err := c.Exec(ctx, db, setup); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Exec(ctx, "one", `INSERT INTO a VALUES (1, '{"b":1,"a":2}'), (2, NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "two", `INSERT INTO a VALUES (2, NULL), (1, '{"a":2, "b":1}')`); err != nil {
		t.Fatal(err)
	}
	one, err := c.Fingerprint(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	two, err := c.Fingerprint(ctx, "two")
	if err != nil {
		t.Fatal(err)
	}
	if one != two {
		t.Errorf("same rows, different order: %q != %q", one, two)
	}
	if !strings.Contains(one, "public.m rows=unpopulated") {
		t.Errorf("unpopulated matview missing: %q", one)
	}
	if err := c.Exec(ctx, "two", `UPDATE a SET id = 3 WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if two, _ = c.Fingerprint(ctx, "two"); one == two {
		t.Errorf("changed row, same fingerprint %q", one)
	}
}

func TestAuth(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprint("trust=", trust), func(t *testing.T) {
			t.Parallel()
			var opts []pgtest.Option
			if trust {
				opts = append(opts, pgtest.WithTrustAuth())
			}
			c := pgtest.Start(t, 15, opts...)
			wrong := *c
			wrong.Password = "wrong"
			_, err := wrong.Query(ctx(t), "postgres", "SELECT 1")
			if trust && err != nil {
				t.Errorf("trust auth refused a wrong password: %v", err)
			}
			if !trust && (err == nil || !strings.Contains(err.Error(), "password authentication failed")) {
				t.Errorf("scram auth with a wrong password: %v", err)
			}
		})
	}
}

func TestPortClash(t *testing.T) {
	if !pgtest.Available(15) {
		t.Skip("PostgreSQL 15 not available")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir, err := pgtest.MkdirTemp("pgferry-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	port := l.Addr().(*net.TCPAddr).Port
	c, err := pgtest.New(dir, 15, pgtest.WithPort(port))
	if err == nil {
		c.Destroy()
		t.Fatalf("New on taken port %d succeeded", port)
	}
	if !strings.Contains(err.Error(), "port already in use") {
		t.Errorf("New on a taken port: %v", err)
	}
}

// TestSchemaDumpNewerServer checks the [pgdumpNN] condition and the advice
// SchemaDump gives when its pg_dump is older than the server.
func TestSchemaDumpNewerServer(t *testing.T) {
	// Debian's pg_dump 15, older than the newest servers, even when newer clients are installed.
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/pg_dump"); err == nil {
		t.Setenv("PGFERRY_PG_DUMP", "/usr/lib/postgresql/15/bin/pg_dump")
	}
	t.Setenv("CI", "") // [pgdumpNN] is an error, not false, under CI
	dumpMajor, err := pgtest.PgDumpMajor()
	if err != nil {
		t.Skip(err)
	}
	newer := dumpMajor + 1
	if !pgtest.Available(newer) {
		t.Skipf("PostgreSQL %d not available", newer)
	}
	if ok, _ := pgtest.Condition(fmt.Sprint("pgdump", newer)); ok {
		t.Errorf("Condition(pgdump%d) with pg_dump %d is true", newer, dumpMajor)
	}
	if ok, _ := pgtest.Condition(fmt.Sprint("pgdump", dumpMajor)); !ok {
		t.Errorf("Condition(pgdump%d) with pg_dump %d is false", dumpMajor, dumpMajor)
	}
	c := pgtest.Start(t, newer)
	_, err = c.SchemaDump(ctx(t), "postgres")
	if err == nil || !strings.Contains(err.Error(), "PGFERRY_PG_DUMP") {
		t.Errorf("SchemaDump of a newer server: %v, want advice naming PGFERRY_PG_DUMP", err)
	}
}

// TestClientDirs checks that the client tools of `make pg-versions` are found in
// the cache, offered to pgferry through PGFERRY_PG_BIN_PATH, and preferred by
// SchemaDump and [pgdumpNN] when newer than Debian's.
func TestClientDirs(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("PGFERRY_PG_CACHE", cache)
	t.Setenv("PGFERRY_PG_DUMP", "")
	t.Setenv("PGFERRY_PG_BIN_PATH", "/somewhere/bin")
	for _, m := range []string{"18", "17", "x"} {
		dir := filepath.Join(cache, "clients", m, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf("#!/bin/sh\necho 'pg_dump (PostgreSQL) %s.1'\n", m)
		if err := os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(cache, "clients", "root", "usr"), 0o755) // the tree itself is no client
	want := []string{filepath.Join(cache, "clients/17/bin"), filepath.Join(cache, "clients/18/bin")}
	if got := pgtest.ClientDirs(); strings.Join(got, ":") != strings.Join(want, ":") {
		t.Errorf("ClientDirs = %q, want %q", got, want)
	}
	if got, want := pgtest.ClientBinPath(), "/somewhere/bin:"+strings.Join(want, ":"); got != want {
		t.Errorf("ClientBinPath = %q, want %q", got, want)
	}
	if m, err := pgtest.PgDumpMajor(); err != nil || m != 18 {
		t.Errorf("PgDumpMajor = %d, %v; want the cache's 18", m, err)
	}
	t.Setenv("CI", "")
	if ok, err := pgtest.Condition("pgdump18"); !ok || err != nil {
		t.Errorf("Condition(pgdump18) = %v, %v; want true", ok, err)
	}
	if ok, err := pgtest.Condition("pgdump19"); ok || err != nil {
		t.Errorf("Condition(pgdump19) = %v, %v; want false (a skip) outside CI", ok, err)
	}
	t.Setenv("CI", "true")
	if _, err := pgtest.Condition("pgdump19"); err == nil || !strings.Contains(err.Error(), "make pg-versions") {
		t.Errorf("Condition(pgdump19) under CI: %v, want an error that says to run make pg-versions", err)
	}
}

func TestNormalizeDump(t *testing.T) {
	in := "--\n-- PostgreSQL database dump\n--\n\\restrict abc123\n\nSET statement_timeout = 0;\n" +
		"SELECT pg_catalog.set_config('search_path', '', false);\n\n\n" +
		"CREATE TABLE public.t (\n    id integer\n);   \n\n\n\nALTER TABLE public.t OWNER TO postgres;\n\n\\unrestrict abc123\n\n" +
		"CREATE PROCEDURE p(IN a integer, INOUT b text, IN c integer)\n" +
		"REVOKE ALL ON PROCEDURE p(IN a integer, INOUT b text, IN c integer) FROM PUBLIC;\n" +
		"CREATE FUNCTION f(a text DEFAULT 'x, IN y') RETURNS text\n" +
		"CREATE TRIGGER t BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE PROCEDURE public.touch();\n"
	want := "CREATE TABLE public.t (\n    id integer\n);\n\nALTER TABLE public.t OWNER TO postgres;\n\n" +
		"CREATE PROCEDURE p(a integer, INOUT b text, c integer)\n" +
		"REVOKE ALL ON PROCEDURE p(a integer, INOUT b text, c integer) FROM PUBLIC;\n" +
		"CREATE FUNCTION f(a text DEFAULT 'x, IN y') RETURNS text\n" +
		"CREATE TRIGGER t BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.touch();\n"
	if got := pgtest.NormalizeDump(in); got != want {
		t.Errorf("NormalizeDump =\n%q\nwant\n%q", got, want)
	}
}

// TestNormalizeDumpViews: a view over one table prints the same from a 15 and a 16+ server
// (products.id against id); views over joins, subqueries or aliases keep their qualification.
func TestNormalizeDumpViews(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"one table, as 15 prints it",
			"CREATE VIEW app.active_products AS\n SELECT products.id,\n    products.sku\n   FROM app.products\n  WHERE products.active\n  WITH CASCADED CHECK OPTION;\n",
			"CREATE VIEW app.active_products AS\n SELECT id,\n    sku\n   FROM app.products\n  WHERE active\n  WITH CASCADED CHECK OPTION;\n"},
		{"materialized, composite columns",
			"CREATE MATERIALIZED VIEW billing.rev AS\n SELECT (invoices.total).currency AS currency,\n    sum((invoices.total).amount) AS revenue\n   FROM billing.invoices\n  GROUP BY (invoices.total).currency\n  WITH NO DATA;\n",
			"CREATE MATERIALIZED VIEW billing.rev AS\n SELECT (total).currency AS currency,\n    sum((total).amount) AS revenue\n   FROM billing.invoices\n  GROUP BY (total).currency\n  WITH NO DATA;\n"},
		{"one table, the statement ending on its FROM line",
			"CREATE VIEW shop.product_names AS\n SELECT product.id,\n    product.sku\n   FROM shop.product;\n",
			"CREATE VIEW shop.product_names AS\n SELECT id,\n    sku\n   FROM shop.product;\n"},
		{"FROM inside an expression is no second relation",
			"CREATE MATERIALIZED VIEW shop.s AS\n SELECT EXTRACT(year FROM orders.placed) AS y,\n    sum(orders.total) AS total\n   FROM shop.orders\n  GROUP BY (EXTRACT(year FROM orders.placed))\n  WITH NO DATA;\n",
			"CREATE MATERIALIZED VIEW shop.s AS\n SELECT EXTRACT(year FROM placed) AS y,\n    sum(total) AS total\n   FROM shop.orders\n  GROUP BY (EXTRACT(year FROM placed))\n  WITH NO DATA;\n"},
		{"a join keeps its aliases",
			"CREATE VIEW app.s AS\n SELECT o.id,\n    c.email\n   FROM (app.orders o\n     JOIN app.customers c ON ((c.id = o.customer_id)));\n",
			"CREATE VIEW app.s AS\n SELECT o.id,\n    c.email\n   FROM (app.orders o\n     JOIN app.customers c ON ((c.id = o.customer_id)));\n"},
		{"a subquery keeps its qualification",
			"CREATE VIEW app.v AS\n SELECT t.id\n   FROM app.t\n  WHERE (t.id IN ( SELECT u.id\n           FROM app.u));\n",
			"CREATE VIEW app.v AS\n SELECT t.id\n   FROM app.t\n  WHERE (t.id IN ( SELECT u.id\n           FROM app.u));\n"},
		{"only the relation's own prefix, not a schema-qualified function or a longer name",
			"CREATE VIEW app.p AS\n SELECT p.id,\n    app.f(p.x) AS fx,\n    p.xp.y\n   FROM app.p\n  WHERE (p.a > 1);\n",
			"CREATE VIEW app.p AS\n SELECT id,\n    app.f(x) AS fx,\n    xp.y\n   FROM app.p\n  WHERE (a > 1);\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pgtest.NormalizeDump(tc.in); got != tc.want {
				t.Errorf("NormalizeDump =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestNormalizeDumpMultirange: the default multirange type name that dumps of 14+ print for every
// range type is dropped, a chosen one is kept.
func TestNormalizeDumpMultirange(t *testing.T) {
	in := "CREATE TYPE shop.floatrange AS RANGE (\n    subtype = double precision,\n    multirange_type_name = shop.floatmultirange\n);\n" +
		"CREATE TYPE shop.span AS RANGE (\n    subtype = double precision,\n    multirange_type_name = shop.span_multirange,\n    subtype_diff = shop.f8diff\n);\n" +
		"CREATE TYPE shop.period AS RANGE (\n    subtype = date,\n    multirange_type_name = shop.periods\n);\n"
	want := "CREATE TYPE shop.floatrange AS RANGE (\n    subtype = double precision\n);\n" +
		"CREATE TYPE shop.span AS RANGE (\n    subtype = double precision,\n    subtype_diff = shop.f8diff\n);\n" +
		"CREATE TYPE shop.period AS RANGE (\n    subtype = date,\n    multirange_type_name = shop.periods\n);\n"
	if got := pgtest.NormalizeDump(in); got != want {
		t.Errorf("NormalizeDump =\n%s\nwant\n%s", got, want)
	}
}

func TestFilterRoles(t *testing.T) {
	in := "role a superuser=false\nrole b superuser=true\nmember a of b admin=false\nmember c of a admin=true\n"
	want := "role a superuser=false\nmember c of a admin=true\n"
	if got := pgtest.FilterRoles(in, []string{"b"}); got != want {
		t.Errorf("FilterRoles = %q, want %q", got, want)
	}
}

func TestCondition(t *testing.T) {
	ok, err := pgtest.Condition("pg15")
	if err != nil || ok != pgtest.Available(15) {
		t.Errorf("Condition(pg15) = %v, %v", ok, err)
	}
	if _, err := pgtest.Condition("postgres"); err == nil {
		t.Error("Condition(postgres) succeeded")
	}
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			if err := pgtest.Setup(env); err != nil {
				return err
			}
			// Scripts load the repository's sample database as sample.sql.
			b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample", "sample.sql"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(env.WorkDir, "sample.sql"), b, 0o644)
		},
		Cmds:      pgtest.Commands(),
		Condition: pgtest.Condition,
	})
}

// sampleSQL is the repository's sample database script.
func sampleSQL(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample", "sample.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSampleLoads loads the sample database on every available major it
// claims to support.
func TestSampleLoads(t *testing.T) {
	sql := sampleSQL(t)
	var ref string
	for _, major := range []int{12, 13, 14, 15, 16, 17, 18} {
		if !pgtest.Available(major) {
			t.Logf("PostgreSQL %d not available", major)
			continue
		}
		c := pgtest.Start(t, major)
		ctx := ctx(t)
		if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
			t.Fatal(err)
		}
		if err := c.Exec(ctx, "app", sql); err != nil {
			t.Fatalf("PostgreSQL %d: loading sample.sql: %v", major, err)
		}
		// Loading into a second database of the same server works too.
		if err := c.Exec(ctx, "postgres", "CREATE DATABASE app2"); err != nil {
			t.Fatal(err)
		}
		if err := c.Exec(ctx, "app2", sql); err != nil {
			t.Fatalf("PostgreSQL %d: loading sample.sql again: %v", major, err)
		}
		fp, err := c.Fingerprint(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		// The data is deterministic: equal on every major.
		if ref == "" {
			ref = fp
		} else if fp != ref {
			t.Errorf("PostgreSQL %d: sample fingerprint differs from the first major's:\n%s", major,
				diff.Diff("first", []byte(ref), fmt.Sprint(major), []byte(fp)))
		}
		c.Destroy()
	}
}

// TestSampleRoundTrip proves SchemaDump, Fingerprint and Roles sane: a
// pg_dump | psql copy of the sample database compares equal to the original
// on all three, and a changed copy does not.
func TestSampleRoundTrip(t *testing.T) {
	for _, major := range []int{15, 13} {
		t.Run(fmt.Sprint("pg", major, "to15"), func(t *testing.T) {
			t.Parallel()
			src := pgtest.Start(t, major)
			dst := pgtest.Start(t, 15)
			ctx := ctx(t)
			if err := src.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
				t.Fatal(err)
			}
			if err := src.Exec(ctx, "app", sampleSQL(t)); err != nil {
				t.Fatal(err)
			}
			// Without passwords: the bootstrap superuser's would replace dst's.
			pipe(t, []string{"pg_dumpall", "--roles-only", "--no-role-passwords", "--dbname", src.DSN("postgres")},
				[]string{"psql", "-X", "-q", "--dbname", dst.DSN("postgres")})
			if err := dst.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
				t.Fatal(err)
			}
			pipe(t, []string{"pg_dump", "--dbname", src.DSN("app")},
				[]string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", dst.DSN("app")})
			a, err := src.Fingerprint(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			b, err := dst.Fingerprint(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			if a != b {
				t.Errorf("fingerprints differ:\n%s", diff.Diff("source", []byte(a), "copy", []byte(b)))
			}
			if n := strings.Count(a, "\n"); n < 30 {
				t.Errorf("sample fingerprint has only %d lines:\n%s", n, a)
			}

			sa, err := src.SchemaDump(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			sb, err := dst.SchemaDump(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			if sa != sb {
				t.Errorf("schema dumps differ:\n%s", diff.Diff("source", []byte(sa), "copy", []byte(sb)))
			}

			ra, err := src.Roles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := dst.Roles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ra != rb {
				t.Errorf("roles differ:\n%s", diff.Diff("source", []byte(ra), "copy", []byte(rb)))
			}
			if !strings.Contains(ra, "member app_writer of app_reader admin=false") ||
				!strings.Contains(ra, "role legacy_admin superuser=true login=true") {
				t.Errorf("sample roles missing:\n%s", ra)
			}

			// A one-row change shows in the fingerprint, a dropped index in
			// the schema dump.
			if err := dst.Exec(ctx, "app", "UPDATE app.settings SET value = 'USD' WHERE key = 'currency'; DROP INDEX app.products_sku_hash"); err != nil {
				t.Fatal(err)
			}
			if b, _ := dst.Fingerprint(ctx, "app"); a == b {
				t.Error("fingerprint blind to a changed row")
			}
			if sb, _ := dst.SchemaDump(ctx, "app"); sa == sb {
				t.Error("schema dump blind to a dropped index")
			}
		})
	}
}

// pipe runs the PostgreSQL 15 client programs a | b and fails the test on
// any error either reports.
func pipe(t *testing.T, a, b []string) {
	t.Helper()
	tool := func(name string) string {
		for _, p := range []string{"/usr/lib/postgresql/15/bin/" + name} {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		t.Skipf("%s 15 not installed", name)
		return ""
	}
	ca := exec.Command(tool(a[0]), a[1:]...)
	cb := exec.Command(tool(b[0]), b[1:]...)
	var errA, errB, outB bytes.Buffer
	ca.Stderr = &errA
	cb.Stderr = &errB
	cb.Stdout = &outB
	r, err := ca.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cb.Stdin = r
	if err := cb.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ca.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", a[0], err, errA.String())
	}
	if err := cb.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", b[0], err, errB.String())
	}
	// pg_dumpall --roles-only recreates the bootstrap superuser, which
	// exists already: that one error is expected.
	for _, line := range strings.Split(strings.TrimSpace(errB.String()), "\n") {
		if line != "" && !strings.Contains(line, `role "postgres" already exists`) {
			t.Errorf("%s: %s", b[0], line)
		}
	}
}

// A cluster directory copied with cp -a (the bench datasets are copied before
// use) becomes its own cluster when loaded: its directory, socket directory
// and port, so that it runs beside the original and stopping it leaves the
// original running. A copy taken while the server ran is refused.
func TestLoadCopiedCluster(t *testing.T) {
	c := pgtest.Start(t, 15)
	ctx := ctx(t)
	if err := c.Exec(ctx, "postgres", "CREATE TABLE copied AS SELECT 42 AS x"); err != nil {
		t.Fatal(err)
	}
	dst := c.Dir + "-copy"
	t.Cleanup(func() {
		if l, err := pgtest.Load(dst); err == nil {
			l.StopImmediate()
		}
		os.RemoveAll(dst)
	})
	cpA := func() {
		t.Helper()
		os.RemoveAll(dst)
		if out, err := exec.Command("cp", "-a", c.Dir, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp -a: %v\n%s", err, out)
		}
	}

	cpA() // while the original runs
	if _, err := pgtest.Load(dst); err == nil || !strings.Contains(err.Error(), "taken while its server was running") {
		t.Fatalf("Load of a copy of a running cluster: %v; want a refusal", err)
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	cpA()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cp, err := pgtest.Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Dir != dst || cp.Port == c.Port {
		t.Fatalf("copy loaded as dir %s port %d; want dir %s and a port other than %d", cp.Dir, cp.Port, dst, c.Port)
	}
	conf, err := os.ReadFile(filepath.Join(dst, "data", "pgferry.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conf), c.Dir+"'") || !strings.Contains(string(conf), fmt.Sprintf("port = '%d'", cp.Port)) ||
		!strings.Contains(string(conf), "unix_socket_directories = '"+dst+"'") {
		t.Fatalf("copy's pgferry.conf still names the original or lacks its own port:\n%s", conf)
	}
	if again, err := pgtest.Load(dst); err != nil || again.Port != cp.Port || again.Dir != dst {
		t.Fatalf("second Load of the copy = %+v, %v; want it as recorded the first time", again, err)
	}
	if err := cp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if rows, err := cp.Query(ctx, "postgres", "SELECT x FROM copied"); err != nil || len(rows) != 1 || rows[0][0] != "42" {
		t.Fatalf("the copy's data: %v, %v", rows, err)
	}
	if err := cp.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", "SELECT 1"); err != nil {
		t.Fatalf("the original after the copy stopped: %v", err)
	}
}
