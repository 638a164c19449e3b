package checks_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/checks"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// --- helpers

func start(t *testing.T, major int, conf ...string) *pgtest.Cluster {
	t.Helper()
	var opts []pgtest.Option
	for _, kv := range conf {
		k, v, _ := strings.Cut(kv, "=")
		opts = append(opts, pgtest.WithConf(k, v))
	}
	return pgtest.Start(t, major, opts...)
}

func exec(t *testing.T, c *pgtest.Cluster, db, sql string) {
	t.Helper()
	if err := c.Exec(context.Background(), db, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// login is how a test connects to a cluster: as its superuser, or as another role.
type login struct {
	c              *pgtest.Cluster
	user, password string
}

func super(c *pgtest.Cluster) login { return login{c, c.User, c.Password} }

func (l login) dsn(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(l.user, l.password),
		Host: net.JoinHostPort(l.c.Host, strconv.Itoa(l.c.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

func migration() *config.Migration {
	return &config.Migration{Name: "test", Options: config.Options{Roles: true, StripSuperuser: true, Jobs: 4, Verify: "checksum", ServerParameters: "report"}}
}

// readInput reads both catalogs the way `pgferry plan` does and returns the checks' input.
func readInput(t *testing.T, src, tgt login, m *config.Migration, dbs ...string) *checks.Input {
	t.Helper()
	ctx := context.Background()
	readInstance := func(l login) *catalog.Instance {
		conn, err := pgx.Connect(ctx, l.dsn("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		in, err := catalog.ReadInstance(ctx, conn)
		if err != nil {
			t.Fatalf("reading the instance catalog as %s: %v", l.user, err)
		}
		return in
	}
	readDB := func(l login, in *catalog.Instance, db string) *catalog.Database {
		conn, err := pgx.Connect(ctx, l.dsn(db))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		d, err := catalog.ReadDatabase(ctx, conn, db, in.VersionNum)
		if err != nil {
			t.Fatalf("reading database %s as %s: %v", db, l.user, err)
		}
		if m.Options.Filters() { // as plan reads the source
			if err := catalog.ReadDependents(ctx, conn, d, in.VersionNum); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	in := &checks.Input{Migration: m, Source: readInstance(src), Target: readInstance(tgt), Databases: dbs,
		SourceDBs: map[string]*catalog.Database{}, TargetDBs: map[string]*catalog.Database{}}
	for _, db := range dbs {
		in.SourceDBs[db] = readDB(src, in.Source, db)
		if info := in.Target.Database(db); info != nil && info.AllowConn {
			in.TargetDBs[db] = readDB(tgt, in.Target, db)
		}
	}
	in.Tools, in.ToolsErr = pgdump.Find("", in.Source.VersionNum.Release(), in.Target.VersionNum.Release())
	return in
}

// find returns the results of check id for database db ("" for instance-level results).
func find(vals []state.Validation, id, db string) []state.Validation {
	var out []state.Validation
	for _, v := range vals {
		if v.ID == id && v.Database == db {
			out = append(out, v)
		}
	}
	return out
}

var rank = map[state.Outcome]int{checks.Succeeded: 0, checks.Warning: 1, checks.Failed: 2}

// expect asserts that the worst outcome of check id for db is outcome and that one of its
// messages matches re.
func expect(t *testing.T, vals []state.Validation, id, db string, outcome state.Outcome, re string) state.Validation {
	t.Helper()
	got := find(vals, id, db)
	if len(got) == 0 {
		t.Fatalf("%s[%s]: no result", id, db)
	}
	worst := got[0]
	for _, v := range got[1:] {
		if rank[v.Outcome] > rank[worst.Outcome] {
			worst = v
		}
	}
	if worst.Outcome != outcome {
		t.Errorf("%s[%s] = %s, want %s: %v", id, db, worst.Outcome, outcome, got)
	}
	rx := regexp.MustCompile(re)
	for _, v := range got {
		if rx.MatchString(v.Message) {
			return v
		}
	}
	t.Errorf("%s[%s]: no message matches %q: %v", id, db, re, got)
	return worst
}

func hasObject(v state.Validation, obj string) bool {
	for _, o := range v.Objects {
		if o == obj {
			return true
		}
	}
	return false
}

func loadSample(t *testing.T, c *pgtest.Cluster) {
	t.Helper()
	sample, err := os.ReadFile("../testdata/sample/sample.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, c, "postgres", "CREATE DATABASE app")
	exec(t, c, "app", string(sample))
}

// --- tests

// TestSample runs every check on the sample database: nothing fails, same major and across majors.
func TestSample(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		src, tgt int
	}{{"pg15_to_pg15", 15, 15}, {"pg13_to_pg15", 13, 15}, {"pg16_to_pg17", 16, 17}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, tgt := start(t, tc.src), start(t, tc.tgt)
			loadSample(t, src)
			in := readInput(t, super(src), super(tgt), migration(), "app")
			vals := checks.Run(in)
			for _, v := range vals {
				t.Logf("%-22s %-4s %-9s %s %v", v.ID, v.Database, v.Outcome, v.Message, v.Objects)
				if v.Outcome == checks.Failed && v.ID == "pg_dump" && in.ToolsErr != nil && tc.src > 15 && os.Getenv("CI") == "" {
					continue // the machine may lack a client that new (make pg-versions installs it; CI must have it)
				}
				if v.Outcome == checks.Failed {
					t.Errorf("%s failed: %s", v.ID, v.Message)
				}
			}
			if tc.src == tc.tgt {
				expect(t, vals, "target_version", "", checks.Succeeded, "same major")
			} else {
				expect(t, vals, "target_version", "", checks.Warning, fmt.Sprintf("cross-major migration %d → %d", tc.src, tc.tgt))
			}
			expect(t, vals, "source_version", "", checks.Succeeded, "")
			expect(t, vals, "target_privileges", "", checks.Succeeded, "may create databases and roles")
			expect(t, vals, "target_read_only", "", checks.Succeeded, "accepts writes")
			expect(t, vals, "superuser_roles", "", checks.Warning, "created without SUPERUSER")
			expect(t, vals, "role_clashes", "", checks.Succeeded, "no source role clashes")
			expect(t, vals, "role_passwords", "", checks.Succeeded, "carried over")
			expect(t, vals, "server_parameters", "", checks.Succeeded, "same value on both sides")
			expect(t, vals, "session_timeouts", "", checks.Succeeded, "no timeout")
			expect(t, vals, "target_replication", "", checks.Succeeded, "no standbys and no replication slots")
			expect(t, vals, "target_database_empty", "app", checks.Succeeded, "does not exist on the target")
			expect(t, vals, "extensions", "app", checks.Succeeded, `^\d+ extensions? (is|are) available on the target: .*plpgsql 1.0`)
			expect(t, vals, "superuser_roles", "", checks.Warning, "^1 superuser role on the source will be created without SUPERUSER")
			expect(t, vals, "table_filters", "app", checks.Succeeded, "no include_tables or exclude_tables: every table is migrated")
			for _, v := range vals {
				// Every result says what its check found, and a database-level one names its database.
				if strings.HasPrefix(v.Message, "nothing to report") || (v.Level == checks.Database && v.Database == "") {
					t.Errorf("%s: %q under database %q says nothing", v.ID, v.Message, v.Database)
				}
				if strings.Contains(v.Message, "(s)") {
					t.Errorf("%s: %q", v.ID, v.Message)
				}
			}
			expect(t, vals, "extension_schemas", "app", checks.Succeeded, "")
			expect(t, vals, "encoding_locale", "app", checks.Succeeded, "")
			expect(t, vals, "collations", "app", checks.Succeeded, "")
			expect(t, vals, "collation_versions", "app", checks.Succeeded, "")
			expect(t, vals, "languages", "app", checks.Succeeded, "plpgsql")
			expect(t, vals, "superuser_objects", "app", checks.Succeeded, "no object needs a superuser")
			expect(t, vals, "with_oids", "app", checks.Succeeded, "")
			expect(t, vals, "max_locks", "app", checks.Succeeded, "")
			expect(t, vals, "catalog_privileges", "app", checks.Succeeded, "no privileges changed")
			expect(t, vals, "object_owners", "app", checks.Succeeded, "app_owner")
			expect(t, vals, "tablespaces", "app", checks.Succeeded, "")
			notes := expect(t, vals, "notes", "app", checks.Succeeded, "without a primary key")
			if !hasObject(notes, "audit.statement_log") {
				t.Errorf("notes: audit.statement_log not listed: %v", notes.Objects)
			}
		})
	}
}

func TestTargetReadOnly(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15, "default_transaction_read_only=on")
	vals := checks.Run(readInput(t, super(src), super(tgt), migration()))
	expect(t, vals, "target_read_only", "", checks.Failed, `default_transaction_read_only is on for the target login "postgres" \(set in the server configuration\): turn it off`)
}

func TestSharedPreloadLibraries(t *testing.T) {
	t.Parallel()
	src := start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", "CREATE EXTENSION pg_stat_statements")
	without := start(t, 15)
	with := start(t, 15, "shared_preload_libraries=pg_stat_statements")

	vals := checks.Run(readInput(t, super(src), super(without), migration(), "app"))
	v := expect(t, vals, "extensions", "app", checks.Failed, "pg_stat_statements needs shared_preload_libraries on the target: add pg_stat_statements to it and restart the target")
	if !hasObject(v, "pg_stat_statements") {
		t.Errorf("objects = %v", v.Objects)
	}
	vals = checks.Run(readInput(t, super(src), super(with), migration(), "app"))
	expect(t, vals, "extensions", "app", checks.Succeeded, "available on the target")
}

// TestExtensionVersions varies what the target offers: the PostgreSQL packages of one machine
// ship the same contrib, so the target's offer is edited in the catalog read from a real server.
func TestExtensionVersions(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", "CREATE EXTENSION hstore; CREATE EXTENSION pg_buffercache")
	base := readInput(t, super(src), super(tgt), migration(), "app")
	hv := base.SourceDBs["app"].Extensions[0].Version
	if base.SourceDBs["app"].Extensions[0].Name != "hstore" {
		t.Fatalf("extensions = %+v", base.SourceDBs["app"].Extensions)
	}
	expect(t, checks.Run(base), "extensions", "app", checks.Succeeded, "3 extensions are available on the target")

	for _, tc := range []struct {
		name    string
		edit    func(in *checks.Input)
		outcome state.Outcome
		re      string
	}{
		{"missing", func(in *checks.Input) { delete(in.Target.AvailableExtensions, "hstore") }, checks.Failed,
			"hstore is not available on the target: install its package"},
		{"source newer", func(in *checks.Input) {
			in.Target.AvailableExtensions["hstore"] = []string{"1.1", "1.2"}
			in.Target.DefaultExtensionVersions["hstore"] = "1.2"
		}, checks.Failed, `hstore is at version ` + regexp.QuoteMeta(hv) + ` on the source, newer than any the target offers \(up to 1.2\)`},
		{"default older", func(in *checks.Input) {
			in.Target.AvailableExtensions["hstore"] = []string{"1.1", hv}
			in.Target.DefaultExtensionVersions["hstore"] = "1.1"
		}, checks.Warning, `ALTER EXTENSION hstore UPDATE TO '` + regexp.QuoteMeta(hv) + `'`},
		{"default newer", func(in *checks.Input) {
			in.Target.AvailableExtensions["hstore"] = []string{hv, "9.10"}
			in.Target.DefaultExtensionVersions["hstore"] = "9.10"
		}, checks.Succeeded, `note: hstore is created at the target's default version 9.10`},
		{"allow-list", func(in *checks.Input) {
			in.Target.Settings["azure.extensions"] = catalog.Setting{Name: "azure.extensions", Setting: "HSTORE"}
		}, checks.Failed, "pg_buffercache is not in the target's azure.extensions allow-list"},
		{"not a superuser", func(in *checks.Input) { in.Target.IsSuperuser = false }, checks.Warning,
			`only a superuser may create pg_buffercache and the target login "postgres" is not one`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := readInput(t, super(src), super(tgt), migration(), "app")
			tc.edit(in)
			expect(t, checks.Run(in), "extensions", "app", tc.outcome, tc.re)
		})
	}
}

func TestExtensionSchemas(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", `CREATE SCHEMA ext; CREATE EXTENSION hstore SCHEMA ext`)
	expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "extension_schemas", "app", checks.Succeeded, "")
	// pg_dump creates neither zz (a member of hstore) nor pgcrypto's objects before it.
	exec(t, src, "app", `CREATE SCHEMA zz; ALTER EXTENSION hstore ADD SCHEMA zz; CREATE EXTENSION pgcrypto SCHEMA zz`)
	v := expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "extension_schemas", "app", checks.Failed,
		`pgcrypto is installed in schema zz, which belongs to extension hstore: .*ALTER EXTENSION pgcrypto SET SCHEMA public`)
	if !hasObject(v, "pgcrypto") || hasObject(v, "hstore") {
		t.Errorf("objects = %v", v.Objects)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", `CREATE ROLE boss SUPERUSER; CREATE ROLE app LOGIN CONNECTION LIMIT 5; CREATE ROLE azure_app LOGIN`)
	exec(t, tgt, "postgres", `CREATE ROLE app NOLOGIN`)
	vals := checks.Run(readInput(t, super(src), super(tgt), migration()))
	v := expect(t, vals, "superuser_roles", "", checks.Warning, `^1 superuser role on the source will be created without SUPERUSER`)
	if !hasObject(v, "boss") {
		t.Errorf("superuser_roles objects = %v", v.Objects)
	}
	expect(t, vals, "role_clashes", "", checks.Warning,
		`role "app" exists on the target with other attributes \(LOGIN on the source, NOLOGIN on the target; CONNECTION LIMIT 5 on the source, CONNECTION LIMIT -1 on the target\): the plan alters it`)

	// A managed target reserves its prefix.
	exec(t, tgt, "postgres", `CREATE ROLE azure_pg_admin NOLOGIN`)
	vals = checks.Run(readInput(t, super(src), super(tgt), migration()))
	v = expect(t, vals, "role_clashes", "", checks.Failed, `the target reserves role names starting with pg_, azure_`)
	if !hasObject(v, "azure_app") {
		t.Errorf("role_clashes objects = %v", v.Objects)
	}
	m := migration()
	m.Options.Roles = false
	vals = checks.Run(readInput(t, super(src), super(tgt), m))
	if got := find(vals, "role_clashes", ""); len(got) != 1 || got[0].Outcome != checks.Succeeded {
		t.Errorf("roles = false: role_clashes = %v", got)
	}
}

func TestServerParameters(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", `ALTER SYSTEM SET work_mem = '8MB'`)
	exec(t, src, "postgres", `SELECT pg_reload_conf()`)
	pgtestWait(t, src, "SHOW work_mem", "8MB")
	vals := checks.Run(readInput(t, super(src), super(tgt), migration()))
	v := expect(t, vals, "server_parameters", "", checks.Warning,
		`work_mem is 8192 kB on the source and 4096 kB on the target: set it on the target \(ALTER SYSTEM SET work_mem = '8192'`)
	if !hasObject(v, "work_mem") {
		t.Errorf("objects = %v", v.Objects)
	}
	if n := len(find(vals, "server_parameters", "")); n != 1 {
		t.Errorf("server_parameters: %d results, want 1: %v", n, find(vals, "server_parameters", ""))
	}
	m := migration()
	m.Options.ServerParameters = "apply"
	expect(t, checks.Run(readInput(t, super(src), super(tgt), m)), "server_parameters", "", checks.Succeeded,
		`work_mem .* planned to be set on the target`)
}

// TestServerParametersRemoved: a parameter PostgreSQL 14 removed is reported.
func TestServerParametersRemoved(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 13, "vacuum_cleanup_index_scale_factor=0.2"), start(t, 15)
	expect(t, checks.Run(readInput(t, super(src), super(tgt), migration())), "server_parameters", "", checks.Warning,
		`vacuum_cleanup_index_scale_factor = 0.2 on the source is not a parameter of the target \(PostgreSQL 15\)`)
}

func pgtestWait(t *testing.T, c *pgtest.Cluster, query, want string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		rows, err := c.Query(context.Background(), "postgres", query)
		if err == nil && len(rows) == 1 && rows[0][0] == want {
			return
		}
		syscall.Select(0, nil, nil, nil, &syscall.Timeval{Usec: 50000})
	}
	t.Fatalf("%s never returned %s", query, want)
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15, "statement_timeout=30s")
	exec(t, tgt, "postgres", "CREATE DATABASE app")
	exec(t, src, "postgres", "CREATE DATABASE app")
	vals := checks.Run(readInput(t, super(src), super(tgt), migration(), "app"))
	expect(t, vals, "session_timeouts", "", checks.Succeeded,
		`note: statement_timeout = 30000ms on the target \(from the server configuration\).*set it to 0 in their own sessions`)

	exec(t, src, "postgres", "ALTER ROLE postgres IN DATABASE app SET idle_session_timeout = '10min'")
	v := expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "session_timeouts", "", checks.Warning,
		`idle_session_timeout = 10min on the source \(from ALTER ROLE/DATABASE ... SET\): it closes pgferry's connections.*ALTER ROLE postgres SET idle_session_timeout = 0`)
	if !hasObject(v, "source:idle_session_timeout") {
		t.Errorf("objects = %v", v.Objects)
	}
}

func TestTargetReplication(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15, "wal_level=replica", "max_replication_slots=4")
	exec(t, tgt, "postgres", "SELECT pg_create_physical_replication_slot('standby1')")
	v := expect(t, checks.Run(readInput(t, super(src), super(tgt), migration())), "target_replication", "", checks.Warning,
		`the target has 0 standbys and 1 replication slot:.*enable high availability and read replicas after the migration`)
	if !hasObject(v, "standby1") {
		t.Errorf("objects = %v", v.Objects)
	}
}

func TestTargetDatabaseNotEmpty(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, tgt, "postgres", "CREATE DATABASE app")
	expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "target_database_empty", "app", checks.Succeeded, "exists on the target and is empty")
	exec(t, tgt, "app", "CREATE TABLE t (id int)")
	expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "target_database_empty", "app", checks.Failed,
		`database "app" exists on the target and is not empty: drop it, or set overwrite_databases = true`)
	m := migration()
	m.Options.OverwriteDatabases = true
	expect(t, checks.Run(readInput(t, super(src), super(tgt), m, "app")), "target_database_empty", "app", checks.Warning, "dropped and recreated")
}

func TestMaxLocks(t *testing.T) {
	t.Parallel()
	small := []string{"max_locks_per_transaction=10", "max_connections=10"}
	src, tgt := start(t, 15, small...), start(t, 15, small...)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", `DO $$ BEGIN FOR i IN 1..400 LOOP EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i); COMMIT; END LOOP; END $$`)
	vals := checks.Run(readInput(t, super(src), super(tgt), migration(), "app"))
	// 10 locks × (10 connections + 3 autovacuum workers + launcher + 8 workers + 10 WAL senders).
	expect(t, vals, "max_locks", "app", checks.Failed,
		`pg_dump locks about 416 relations of database "app" in one transaction, more than the source's lock table holds \(max_locks_per_transaction 10 × 32 server processes = 320\): set max_locks_per_transaction = 64 on the source and restart it`)
	expect(t, vals, "max_locks", "app", checks.Failed, `pg_restore locks about \d+ relations .* set max_locks_per_transaction = 128 on the target`)

	// Above the documented size but within the real one: a warning.
	in := readInput(t, super(src), super(tgt), migration(), "app")
	in.Source.Settings["max_locks_per_transaction"] = catalog.Setting{Name: "max_locks_per_transaction", Setting: "30"}
	in.Target.Settings["max_locks_per_transaction"] = catalog.Setting{Name: "max_locks_per_transaction", Setting: "1000"}
	expect(t, checks.Run(in), "max_locks", "app", checks.Warning, `pg_dump locks about 416 relations .* \(30\) × \(max_connections \+ max_prepared_transactions\) \(10\) = 300: it runs out of shared memory if other sessions hold many locks`)
	// apply starts pg_dump before the checks ran only when it fits the documented size.
	if checks.DumpFitsLocks(in.Source, in.SourceDBs["app"]) {
		t.Error("DumpFitsLocks with 30 × 10 slots for 416 relations = true")
	}
	in.Source.Settings["max_locks_per_transaction"] = catalog.Setting{Name: "max_locks_per_transaction", Setting: "64"}
	if !checks.DumpFitsLocks(in.Source, in.SourceDBs["app"]) {
		t.Error("DumpFitsLocks with 64 × 10 slots for 416 relations = false")
	}

	big := start(t, 15, "max_locks_per_transaction=64", "max_connections=40")
	vals = checks.Run(readInput(t, super(src), super(big), migration(), "app"))
	if v := find(vals, "max_locks", "app"); len(v) != 1 || !strings.Contains(v[0].Message, "on the source") || strings.Contains(v[0].Message, "on the target and restart") {
		t.Errorf("max_locks with a big target = %v", v)
	}
}

// TestNonSuperuserTarget points the checks at a target login that can create databases and
// roles but is not a superuser, as on managed services.
func TestNonSuperuserTarget(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, tgt, "postgres", `CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD 'migrator-pw'`)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", `CREATE ROLE app_reader;
		CREATE SCHEMA app;
		CREATE TABLE app.t (id int PRIMARY KEY);
		CREATE FUNCTION app.noop() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
		CREATE EVENT TRIGGER noop ON ddl_command_start EXECUTE FUNCTION app.noop();
		CREATE CAST (text AS bytea) WITHOUT FUNCTION;
		CREATE EXTENSION pg_buffercache;
		GRANT SELECT ON pg_catalog.pg_statistic TO app_reader;
		GRANT SELECT ON information_schema.tables TO app_reader`)
	m := migration()
	nonSuper := login{tgt, "migrator", "migrator-pw"}
	vals := checks.Run(readInput(t, super(src), nonSuper, m, "app"))
	expect(t, vals, "target_privileges", "", checks.Succeeded, `"migrator" may create databases and roles`)
	v := expect(t, vals, "superuser_objects", "app", checks.Failed,
		`2 objects can only be created by a superuser and the target login "migrator" is not one`)
	for _, o := range []string{"event trigger noop", "cast (text AS bytea)"} {
		if !hasObject(v, o) {
			t.Errorf("superuser_objects: %q not in %v", o, v.Objects)
		}
	}
	expect(t, vals, "superuser_roles", "", checks.Succeeded, "")
	expect(t, vals, "extensions", "app", checks.Warning, `only a superuser may create pg_buffercache and the target login "migrator" is not one`)
	v = expect(t, vals, "catalog_privileges", "app", checks.Warning, `privileges changed on 1 information_schema object are not migrated.*1 pg_catalog object are carried over by pg_dump, but the target login "migrator" is not a superuser`)
	if !hasObject(v, "table pg_catalog.pg_statistic") || !hasObject(v, "view information_schema.tables") {
		t.Errorf("catalog_privileges objects = %v", v.Objects)
	}
	// postgres is a superuser on the target, which the login cannot give objects to: they go to
	// the login (REASSIGNS_OWNER), the database and the public schema included.
	v = expect(t, vals, "object_owners", "app", checks.Warning, `objects owned by "postgres" on the source will be owned by "migrator" on the target, because it is a superuser on the target`)
	for _, o := range []string{"table app.t", "schema app", "database app"} {
		if !hasObject(v, o) {
			t.Errorf("object_owners: %q not in %v", o, v.Objects)
		}
	}
	expect(t, vals, "owner_map", "", checks.Succeeded, `"postgres" → "migrator"`)
	expect(t, vals, "owner_membership", "", checks.Succeeded, "")
	// owner_map to a role that exists nowhere fails the plan, saying what to do.
	m.Options.OwnerMap = map[string]string{"postgres": "app_admin"}
	expect(t, checks.Run(readInput(t, super(src), nonSuper, m, "app")), "owner_map", "", checks.Failed,
		`owner_map maps "postgres" to "app_admin", which neither exists on the target nor is a role of the source.*CREATE ROLE app_admin`)
	m.Options.OwnerMap = nil
	m.Options.Roles = false
	expect(t, checks.Run(readInput(t, super(src), nonSuper, m, "app")), "owner_membership", "", checks.Succeeded, "")
	m.Options.Roles = true

	// The same source to a superuser target login: all of it can be created.
	vals = checks.Run(readInput(t, super(src), super(tgt), m, "app"))
	expect(t, vals, "superuser_objects", "app", checks.Succeeded, `note: 2 objects need a superuser`)
	expect(t, vals, "catalog_privileges", "app", checks.Warning, `1 information_schema object`)
	expect(t, vals, "object_owners", "app", checks.Succeeded, "")
	expect(t, vals, "owner_membership", "", checks.Succeeded, `"postgres" is a superuser`)
	m.Options.Roles = false
	expect(t, checks.Run(readInput(t, super(src), super(tgt), m, "app")), "catalog_privileges", "app", checks.Warning, `1 pg_catalog object are not migrated \(roles = false\)`)
}

// TestObjectOwnersStripped: objects of a superuser created without SUPERUSER on the target.
func TestObjectOwnersStripped(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "postgres", "CREATE ROLE boss SUPERUSER")
	exec(t, src, "app", `SET ROLE boss; CREATE TABLE public.t (id int); CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`)
	v := expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "object_owners", "app", checks.Warning,
		`2 objects are owned by superuser "boss" on the source; "boss" is created on the target without SUPERUSER`)
	if !hasObject(v, "table public.t") || !hasObject(v, "function public.f()") {
		t.Errorf("objects = %v", v.Objects)
	}
	m := migration()
	m.Options.StripSuperuser = false
	expect(t, checks.Run(readInput(t, super(src), super(tgt), m, "app")), "object_owners", "app", checks.Succeeded, "boss")
	m.Options.Roles = false
	expect(t, checks.Run(readInput(t, super(src), super(tgt), m, "app")), "object_owners", "app", checks.Succeeded,
		`note: roles = false: every object is created owned by the target login "postgres", including those of boss`)
}

// TestObjectOwnersSchemaCreate: for a target login that is not a superuser, a source superuser
// created without SUPERUSER must have CREATE on the schemas of its objects, from the schema's
// privileges as pg_dump restores them: its own schema, CREATE for PUBLIC or for a role it inherits
// from pass; public (15: only its database's owner) and a schema granting nothing fail the plan.
func TestObjectOwnersSchemaCreate(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, tgt, "postgres", `CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD 'migrator-pw'`)
	exec(t, src, "postgres", "CREATE ROLE boss SUPERUSER; CREATE ROLE writers; CREATE ROLE other; GRANT writers TO boss")
	exec(t, src, "postgres", "CREATE DATABASE app OWNER other")
	exec(t, src, "app", `CREATE SCHEMA s_own AUTHORIZATION boss;
		CREATE SCHEMA s_pub AUTHORIZATION other; GRANT CREATE ON SCHEMA s_pub TO PUBLIC;
		CREATE SCHEMA s_grp AUTHORIZATION other; GRANT CREATE ON SCHEMA s_grp TO writers;
		CREATE SCHEMA s_none AUTHORIZATION other; GRANT USAGE ON SCHEMA s_none TO boss;
		SET ROLE boss;
		CREATE TABLE s_own.t (id int); CREATE TABLE s_pub.t (id int); CREATE TABLE s_grp.t (id int);
		CREATE TABLE s_none.t (id int); CREATE VIEW s_none.v AS SELECT 1 AS x;
		CREATE TABLE public.t (id int)`)
	nonSuper := login{tgt, "migrator", "migrator-pw"}
	m := migration()
	v := expect(t, checks.Run(readInput(t, super(src), nonSuper, m, "app")), "object_owners", "app", checks.Failed,
		`"boss" in schema "public" \(1 object\), "boss" in schema "s_none" \(2 objects\)\. .*GRANT CREATE ON SCHEMA public TO boss.*owner_map = \{ boss = "ROLE" \}`)
	for _, s := range []string{"s_own", "s_pub", "s_grp"} {
		if strings.Contains(v.Message, `"`+s+`"`) {
			t.Errorf("object_owners names schema %s, where boss has CREATE: %s", s, v.Message)
		}
	}
	// Given to another role, or to a superuser target login, they need nothing of boss.
	m.Options.OwnerMap = map[string]string{"boss": "other"}
	expect(t, checks.Run(readInput(t, super(src), nonSuper, m, "app")), "object_owners", "app", checks.Warning, "")
	m.Options.OwnerMap = nil
	expect(t, checks.Run(readInput(t, super(src), super(tgt), m, "app")), "object_owners", "app", checks.Warning, "")
	// The database's owner has public's CREATE (pg_database_owner): boss owning it passes there.
	exec(t, src, "postgres", "ALTER DATABASE app OWNER TO boss")
	v = expect(t, checks.Run(readInput(t, super(src), nonSuper, m, "app")), "object_owners", "app", checks.Failed, `"boss" in schema "s_none"`)
	if strings.Contains(v.Message, `schema "public"`) {
		t.Errorf("object_owners names public, which boss's database gives it: %s", v.Message)
	}
}

func TestTablespaces(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	dir := filepath.Join(src.Dir, "ts1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The server may run as another OS user (tests run as root): give it the directory.
	fi, err := os.Stat(src.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(dir, int(st.Uid), int(st.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, src, "postgres", "CREATE TABLESPACE fast LOCATION '"+dir+"'")
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", "CREATE TABLE t (id int PRIMARY KEY)")
	expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "tablespaces", "app", checks.Succeeded, "")
	exec(t, src, "app", "CREATE TABLE hot (id int) TABLESPACE fast; CREATE INDEX t_idx ON t (id) TABLESPACE fast")
	v := expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "tablespaces", "app", checks.Warning,
		`2 relations are in tablespace fast: everything is created in the target's default tablespace`)
	if !hasObject(v, "table public.hot") || !hasObject(v, "index public.t_idx") {
		t.Errorf("objects = %v", v.Objects)
	}
}

// TestCollations moves ICU collations from PostgreSQL 13 (its own ICU) to PostgreSQL 15 (the
// system's ICU): they exist on both, with other versions.
func TestCollations(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 13), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", `CREATE COLLATION german (provider = icu, locale = 'de');
		CREATE TABLE t (a text COLLATE "en-x-icu", b text COLLATE german, c text COLLATE "C");
		CREATE INDEX t_b ON t (b COLLATE "und-x-icu")`)
	in := readInput(t, super(src), super(tgt), migration(), "app")
	vals := checks.Run(in)
	v := expect(t, vals, "collations", "app", checks.Succeeded, `the 4 collations used by columns and indexes exist on the target; note: 1 user-defined collation is created by the schema step`)
	if !hasObject(v, "public.german (icu, de)") {
		t.Errorf("collations objects = %v", v.Objects)
	}
	sv, tv := in.SourceDBs["app"].CollationVersions["pg_catalog.en-x-icu"], in.Target.CollationVersions["pg_catalog.en-x-icu"]
	if sv == "" || tv == "" {
		t.Fatalf("collation versions not read: source %q target %q", sv, tv)
	}
	if sv != tv {
		v = expect(t, vals, "collation_versions", "app", checks.Warning, `pg_catalog.en-x-icu is version `+regexp.QuoteMeta(sv)+` on the source and `+regexp.QuoteMeta(tv)+` on the target.*the copy rebuilds them all`)
		if !hasObject(v, "public.german") {
			t.Errorf("collation_versions objects = %v", v.Objects)
		}
	} else {
		t.Logf("both servers use ICU collation version %s: no version warning to test", sv)
	}

	t.Run("missing", func(t *testing.T) {
		in := readInput(t, super(src), super(tgt), migration(), "app")
		delete(in.Target.Collations, "pg_catalog.en-x-icu")
		expect(t, checks.Run(in), "collations", "app", checks.Failed, `collations used by columns or indexes are missing on the target: pg_catalog.en-x-icu`)
	})
	t.Run("no ICU", func(t *testing.T) {
		in := readInput(t, super(src), super(tgt), migration(), "app")
		for c, p := range in.Target.Collations {
			if p == "i" {
				delete(in.Target.Collations, c)
			}
		}
		v := expect(t, checks.Run(in), "collations", "app", checks.Failed, `ICU collations .*public.german cannot be created: the target has no ICU support`)
		if !hasObject(v, "public.german") {
			t.Errorf("objects = %v", v.Objects)
		}
	})
	t.Run("libc version", func(t *testing.T) {
		in := readInput(t, super(src), super(tgt), migration(), "app")
		in.SourceDBs["app"].UsedCollations["pg_catalog.en_US.utf8"] = "c"
		in.SourceDBs["app"].CollationVersions["pg_catalog.en_US.utf8"] = "2.28"
		in.Target.Collations["pg_catalog.en_US.utf8"] = "c"
		in.Target.CollationVersions["pg_catalog.en_US.utf8"] = "2.36"
		expect(t, checks.Run(in), "collation_versions", "app", checks.Warning, `pg_catalog.en_US.utf8 is version 2.28 on the source and 2.36 on the target`)
	})
}

// TestLanguages moves a PL/Tcl function from a server that has PL/Tcl (PostgreSQL 13 from the
// npm cache) to one without it (Debian's PostgreSQL 15 without postgresql-15-pltcl).
func TestLanguages(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 13), start(t, 15)
	in0 := readInput(t, super(src), super(tgt), migration())
	if _, ok := in0.Source.AvailableExtensions["pltcl"]; !ok {
		t.Skip("the source has no PL/Tcl")
	}
	if _, ok := in0.Target.AvailableExtensions["pltcl"]; ok {
		t.Skip("the target has PL/Tcl: nothing is missing")
	}
	exec(t, src, "postgres", "CREATE DATABASE app")
	if err := src.Exec(context.Background(), "app", `CREATE EXTENSION pltcl`); err != nil {
		t.Skipf("PL/Tcl does not load on the source: %v", err)
	}
	exec(t, src, "app", `CREATE FUNCTION tcl_add(a int, b int) RETURNS int LANGUAGE pltcl AS 'return [expr $1 + $2]'`)
	vals := checks.Run(readInput(t, super(src), super(tgt), migration(), "app"))
	v := expect(t, vals, "languages", "app", checks.Failed, `language pltcl \(1 function\) is not available on the target: install it`)
	if !hasObject(v, "pltcl") {
		t.Errorf("objects = %v", v.Objects)
	}
	expect(t, vals, "extensions", "app", checks.Failed, "pltcl is not available on the target")
}

// TestWithOIDs: no server older than 12 is at hand, so a table of a real catalog gets OIDs.
func TestWithOIDs(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", "CREATE TABLE legacy (id int PRIMARY KEY)")
	in := readInput(t, super(src), super(tgt), migration(), "app")
	expect(t, checks.Run(in), "with_oids", "app", checks.Succeeded, "no table has OIDs")

	// The real case: a PostgreSQL 11 table WITH OIDS cannot go to 12 or later.
	old := start(t, 11)
	exec(t, old, "postgres", "CREATE DATABASE app")
	exec(t, old, "app", "CREATE TABLE legacy (id int PRIMARY KEY) WITH OIDS; CREATE TABLE modern (id int PRIMARY KEY)")
	v := expect(t, checks.Run(readInput(t, super(old), super(tgt), migration(), "app")), "with_oids", "app", checks.Failed,
		`1 table has OIDs, which PostgreSQL 15 cannot hold: remove them on the source \(ALTER TABLE "public"."legacy" SET WITHOUT OIDS;\)`)
	if !hasObject(v, "public.legacy") || hasObject(v, "public.modern") {
		t.Errorf("objects = %v", v.Objects)
	}
	// Fixed as the message says, the check passes.
	exec(t, old, "app", `ALTER TABLE "public"."legacy" SET WITHOUT OIDS`)
	expect(t, checks.Run(readInput(t, super(old), super(tgt), migration(), "app")), "with_oids", "app", checks.Succeeded, "no table has OIDs")
	// An 11 target keeps them (no 11 target at hand with a table WITH OIDS to restore: the check reads the version).
	in = readInput(t, super(src), super(tgt), migration(), "app")
	in.SourceDBs["app"].Tables[0].HasOIDs = true
	in.Target.VersionNum = 110000
	expect(t, checks.Run(in), "with_oids", "app", checks.Succeeded, "the target keeps them")
}

// TestSourceVersion: no 9.4 server is at hand; the check reads the version number.
func TestSourceVersion(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	in := readInput(t, super(src), super(tgt), migration())
	in.Source.VersionNum, in.Source.Version = 90400, "9.4.26"
	expect(t, checks.Run(in), "source_version", "", checks.Failed, "pgferry needs 9.5 or later: upgrade the source first")
}

// TestDowngrade: a PostgreSQL 15 source cannot go to a PostgreSQL 13 target.
func TestDowngrade(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 13)
	expect(t, checks.Run(readInput(t, super(src), super(tgt), migration())), "target_version", "", checks.Failed, "a downgrade is not supported")
}

func TestTargetPrivileges(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, tgt, "postgres", `CREATE ROLE weak LOGIN PASSWORD 'weak-pw'`)
	expect(t, checks.Run(readInput(t, super(src), login{tgt, "weak", "weak-pw"}, migration())), "target_privileges", "", checks.Failed,
		`the target login "weak" lacks CREATEDB and CREATEROLE: grant it \(ALTER ROLE weak CREATEDB CREATEROLE\)`)
	// roles = false: CREATEDB is enough, and the check does not claim the login may create roles.
	exec(t, tgt, "postgres", `CREATE ROLE dbonly LOGIN CREATEDB PASSWORD 'dbonly-pw'`)
	m := migration()
	m.Options.Roles = false
	expect(t, checks.Run(readInput(t, super(src), login{tgt, "dbonly", "dbonly-pw"}, m)), "target_privileges", "", checks.Succeeded,
		`^the target login "dbonly" may create databases \(roles = false: no role is created\)$`)
	expect(t, checks.Run(readInput(t, super(src), login{tgt, "dbonly", "dbonly-pw"}, migration())), "target_privileges", "", checks.Failed,
		`the target login "dbonly" lacks CREATEROLE`)
}

func TestLargeObjects(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", "SELECT lo_from_bytea(0, 'hello'); CREATE UNLOGGED TABLE cache (k text PRIMARY KEY)")
	vals := checks.Run(readInput(t, super(src), super(tgt), migration(), "app"))
	expect(t, vals, "notes", "app", checks.Succeeded, `note: 1 large object; it is created with its OIDs, owners and privileges, and its contents copied`)
	expect(t, vals, "notes", "app", checks.Succeeded, `note: 1 unlogged table; its rows are copied, but it stays unlogged`)
}

func TestPgDumpMissing(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	in := readInput(t, super(src), super(tgt), migration())
	if in.ToolsErr != nil {
		t.Fatalf("pg_dump not found: %v", in.ToolsErr)
	}
	expect(t, checks.Run(in), "pg_dump", "", checks.Succeeded, "pg_dump")
	in.Tools, in.ToolsErr = pgdump.Find(t.TempDir(), 990000, 0)
	expect(t, checks.Run(in), "pg_dump", "", checks.Failed, "install")
	// Only a pg_dump newer than the target: a warning that says which client to install.
	in.Tools, in.ToolsErr = &pgdump.Tools{PgDump: "/usr/lib/postgresql/18/bin/pg_dump", Version: "18.1", Release: 180000}, nil
	expect(t, checks.Run(in), "pg_dump", "", checks.Warning, `pg_dump 18.1 .* is newer than the target \(PostgreSQL 15\).*install postgresql-client-15 or set options.pg_bin_dir`)
}

// TestExtensionMissingOnTarget is the real case: adminpack, shipped with PostgreSQL 15, was removed
// in 17, so a 15 → 17 migration of a database that uses it fails at plan time.
func TestExtensionMissingOnTarget(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 17)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", "CREATE EXTENSION adminpack")
	v := expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "extensions", "app", checks.Failed,
		"adminpack is not available on the target: install its package")
	if !hasObject(v, "adminpack") {
		t.Errorf("objects = %v", v.Objects)
	}
}

// TestPasswordsUnreadable: a source login that is not a superuser cannot read pg_authid, so the
// login roles it migrates will have no password; the plan says which.
func TestPasswordsUnreadable(t *testing.T) {
	t.Parallel()
	src, tgt := start(t, 15), start(t, 15)
	exec(t, src, "postgres", `CREATE ROLE migrator LOGIN CREATEROLE PASSWORD 'migrator-pw'; CREATE ROLE app_user LOGIN PASSWORD 'app-pw'; CREATE ROLE nologin_role`)
	v := expect(t, checks.Run(readInput(t, login{src, "migrator", "migrator-pw"}, super(tgt), migration())), "role_passwords", "", checks.Warning,
		`the source login cannot read pg_authid: \d+ login roles? will have no password; set (it|them) after the migration`)
	if !hasObject(v, "app_user") || hasObject(v, "nologin_role") {
		t.Errorf("objects = %v: want app_user, and no role that cannot log in", v.Objects)
	}
}

// TestTableFilters: what depends on a table the filters leave out, read from a real catalog.
func TestTableFilters(t *testing.T) {
	t.Parallel()
	src := start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", `CREATE TABLE gone (id int PRIMARY KEY, v text);
		CREATE TABLE gone_child () INHERITS (gone);
		CREATE TABLE kept (id int PRIMARY KEY, gone_id int REFERENCES gone);
		CREATE VIEW v AS SELECT id FROM gone;
		CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM gone;
		CREATE FUNCTION f(g gone) RETURNS int LANGUAGE sql AS 'SELECT 1';
		CREATE TABLE holder (id int, g gone);
		ALTER TABLE kept ENABLE ROW LEVEL SECURITY;
		CREATE POLICY p ON kept USING (EXISTS (SELECT 1 FROM gone WHERE gone.id = kept.gone_id));
		CREATE TABLE other (id int PRIMARY KEY);
		CREATE TABLE other_ref (id int REFERENCES other);`)
	m := migration()
	in := readInput(t, super(src), super(src), m, "app")
	// The filters are set below: read what depends on the tables as plan does when filters are set.
	conn, err := pgx.Connect(context.Background(), super(src).dsn("app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := catalog.ReadDependents(context.Background(), conn, in.SourceDBs["app"], in.Source.VersionNum); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	filter := func(o config.Options) {
		in.Migration.Options.IncludeTables, in.Migration.Options.ExcludeTables = o.IncludeTables, o.ExcludeTables
		in.SourceDBs["app"] = plan.FilterDatabase(in.Migration.Options, in.SourceDBs["app"])
	}
	raw := in.SourceDBs["app"]

	filter(config.Options{ExcludeTables: []string{"public.gone*"}})
	v := expect(t, checks.Run(in), "table_filters", "app", checks.Failed, `^5 objects depend on tables that include_tables/exclude_tables leave out.*add the tables they depend on to include_tables.*leave their own table out too`)
	for _, o := range []string{"view public.v depends on table public.gone", "materialized view public.mv depends on table public.gone",
		"function public.f(public.gone) depends on table public.gone", "policy p on public.kept depends on table public.gone",
		"table column public.holder.g depends on table public.gone"} {
		if !hasObject(v, o) {
			t.Errorf("objects %v lack %q", v.Objects, o)
		}
	}
	w := find(checks.Run(in), "table_filters", "app")
	if len(w) != 2 || w[1].Outcome != checks.Warning || !hasObject(w[1], "table constraint kept_gone_id_fkey on public.kept references public.gone") {
		t.Errorf("foreign key warning = %+v", w)
	}

	in.SourceDBs["app"] = raw
	filter(config.Options{ExcludeTables: []string{"public.other"}})
	expect(t, checks.Run(in), "table_filters", "app", checks.Warning, `^1 foreign key of migrated tables references tables that include_tables/exclude_tables leave out: it will not be created on the target`)

	in.SourceDBs["app"] = raw
	filter(config.Options{ExcludeTables: []string{"public.other*"}})
	expect(t, checks.Run(in), "table_filters", "app", checks.Succeeded, `leave out 2 tables, and nothing migrated depends on them`)
}
