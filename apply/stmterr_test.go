package apply

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgferry/pgferry/internal/pgdump"
)

func TestShortStatement(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"one line", "ALTER SCHEMA public OWNER TO postgres;", "ALTER SCHEMA public OWNER TO postgres;"},
		{"lines and comments", "--\n-- a comment\n--\nCREATE TABLE public.t (\n    id integer,\n    v text\n);",
			"CREATE TABLE public.t ( id integer, v text );"},
		{"role password", `CREATE ROLE "app" WITH NOSUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi'; COMMENT ON ROLE "app" IS 'x'`,
			`CREATE ROLE "app" WITH NOSUPERUSER LOGIN PASSWORD '[redacted]'; COMMENT ON ROLE "app" IS 'x'`},
		{"alter role password with quotes", `ALTER ROLE a ENCRYPTED password 'it''s secret'`, `ALTER ROLE a ENCRYPTED password '[redacted]'`},
		{"escape string password", `ALTER ROLE a PASSWORD E'sec\'ret'`, `ALTER ROLE a PASSWORD '[redacted]'`},
		{"user mapping", `CREATE USER MAPPING FOR bob SERVER s OPTIONS ("user" 'bob', password 'hunter2');`,
			`CREATE USER MAPPING FOR bob SERVER s OPTIONS ("user" 'bob', password '[redacted]');`},
		{"subscription", `CREATE SUBSCRIPTION s CONNECTION 'host=a password=hunter2 dbname=x' PUBLICATION p;`,
			`CREATE SUBSCRIPTION s CONNECTION 'host=a password=[redacted] dbname=x' PUBLICATION p;`},
		{"unterminated password", `ALTER ROLE a PASSWORD 'abc`, `ALTER ROLE a PASSWORD '[redacted]'`},
		{"long", "SELECT " + strings.Repeat("x, ", 100) + "1;", "SELECT " + strings.Repeat("x, ", 64) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shortStatement(tc.in)
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if n := len([]rune(got)); n > statementMax {
				t.Errorf("%d characters, more than %d", n, statementMax)
			}
			for _, secret := range []string{"SCRAM", "hunter2", "secret", "sec", "abc"} {
				if strings.Contains(got, secret) && !strings.Contains(tc.in, "SELECT") {
					t.Errorf("%q shows %q", got, secret)
				}
			}
		})
	}
}

func TestNear(t *testing.T) {
	sql := "--\n-- Name: t\n--\nCREATE TABLE t (a intt);\nALTER TABLE t OWNER TO o;"
	if got, want := near(sql, int32(strings.Index(sql, "intt")+1)), "intt); ALTER TABLE t OWNER TO o;"; got != want {
		t.Errorf("near = %q, want %q", got, want)
	}
	if got := near("ALTER ROLE a PASSWORD 'x' VALID UNTIL 'nope'", 37); got != "" {
		t.Errorf("near shows a statement with a password: %q", got)
	}
	if got := near("SELECT 1", 0); got != "" {
		t.Errorf("near without a position = %q", got)
	}
}

func TestHintFor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		code, msg  string
		stmt       string
		want       string // a part of the hint; "" for none
		wantAbsent string
	}{
		{"set role", "42501", `must be able to SET ROLE "postgres"`, "ALTER SCHEMA public OWNER TO postgres;", `owner_map = { postgres = "<role>" }`, ""},
		{"member of role", "42501", `must be member of role "Big Boss"`, "ALTER TABLE t OWNER TO \"Big Boss\";", `GRANT "Big Boss" TO the login`, ""},
		{"create extension", "42501", `permission denied to create extension "hstore"`, "CREATE EXTENSION hstore;", "have an administrator create it", ""},
		{"owner of extension", "42501", `must be owner of extension hstore`, "COMMENT ON EXTENSION hstore IS 'x';", "have an administrator create it", ""},
		{"not available", "0A000", `extension "postgis" is not available`, "CREATE EXTENSION postgis;", "install its package", "does not support"},
		{"control file", "58P01", `could not open extension control file "/usr/share/postgresql/16/extension/x.control": No such file or directory`, "CREATE EXTENSION x;", "install its package", ""},
		{"azure allow-list", "0A000", `extension "x" is not allow-listed for "azure_pg_admin" users in Azure Database for PostgreSQL`, "CREATE EXTENSION x;", "allow-list it", ""},
		{"set parameter", "42501", `permission denied to set parameter "log_statement"`, "ALTER ROLE app SET log_statement TO 'all';", "GRANT SET ON PARAMETER log_statement", ""},
		{"replication role", "42501", `must be superuser to create replication users`, "CREATE ROLE r WITH REPLICATION", "have an administrator create the role", ""},
		{"role 16", "42501", `permission denied to create role`, "CREATE ROLE r WITH BYPASSRLS", "have an administrator create the role", ""},
		{"role missing", "42704", `role "app" does not exist`, "ALTER TABLE t OWNER TO app;", `role "app" does not exist on the target`, ""},
		{"tablespace missing", "42704", `tablespace "fast" does not exist`, "CREATE TABLE t ();", `create tablespace "fast"`, ""},
		{"collation missing", "42704", `collation "de_DE" for encoding "UTF8" does not exist`, "CREATE TABLE t (a text COLLATE \"de_DE\");", `no collation "de_DE"`, ""},
		{"unknown setting", "42704", `unrecognized configuration parameter "pg_stat_statements.track"`, "ALTER DATABASE d SET pg_stat_statements.track = 'all';", "shared_preload_libraries", ""},
		{"locks", "53200", "out of shared memory", "CREATE TABLE t ();", "max_locks_per_transaction", ""},
		{"exists", "42P07", `relation "t" already exists`, "CREATE TABLE t ();", "exists on the target already", ""},
		{"exists, pg_restore", "", `database "shop" already exists`, "CREATE DATABASE shop;", "exists on the target already", ""},
		{"role missing, pg_restore", "", `role "app" does not exist`, "ALTER DATABASE shop OWNER TO app;", `role "app" does not exist on the target`, ""},
		{"feature", "0A000", "cannot use column reference in DEFAULT expression", "CREATE TABLE t ();", "does not support", ""},
		{"privilege", "42501", "permission denied for schema s", "CREATE TABLE s.t ();", "lacks a privilege", ""},
		{"none", "23505", `duplicate key value violates unique constraint "k"`, "INSERT INTO t VALUES (1);", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hintFor(&pgconn.PgError{Code: tc.code, Message: tc.msg}, tc.stmt)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("hint %q, want one with %q", got, tc.want)
			}
			if tc.wantAbsent != "" && strings.Contains(got, tc.wantAbsent) {
				t.Errorf("hint %q has %q", got, tc.wantAbsent)
			}
		})
	}
}

func TestEntryObject(t *testing.T) {
	for _, tc := range []struct {
		h          pgdump.Header
		op, object string
	}{
		{pgdump.Header{Name: "public", Type: "SCHEMA", Owner: "postgres"}, "creating", `schema "public"`},
		{pgdump.Header{Name: "orders", Type: "TABLE", Schema: "public"}, "creating", `table "public"."orders"`},
		{pgdump.Header{Name: "f(integer, text)", Type: "FUNCTION", Schema: "app"}, "creating", `function "app"."f"(integer, text)`},
		{pgdump.Header{Name: "orders orders_pkey", Type: "CONSTRAINT", Schema: "public"}, "adding", `constraint "orders_pkey" on table "public"."orders"`},
		{pgdump.Header{Name: "orders_total_idx", Type: "INDEX", Schema: "public"}, "building", `index "public"."orders_total_idx"`},
		{pgdump.Header{Name: "orders trg", Type: "TRIGGER", Schema: "public"}, "creating", `trigger "trg" on table "public"."orders"`},
		{pgdump.Header{Name: "orders id", Type: "DEFAULT", Schema: "public"}, "setting", `the default of column "id" of table "public"."orders"`},
		{pgdump.Header{Name: "TABLE orders", Type: "ACL", Schema: "public"}, "granting privileges on", `table "public"."orders"`},
		{pgdump.Header{Name: "SCHEMA public", Type: "ACL"}, "granting privileges on", `schema "public"`},
		{pgdump.Header{Name: "MATERIALIZED VIEW mv", Type: "COMMENT", Schema: "s"}, "setting the comment on", `materialized view "s"."mv"`},
		{pgdump.Header{Name: "COLUMN orders.id", Type: "COMMENT", Schema: "public"}, "setting the comment on", `column "id" of table "public"."orders"`},
		{pgdump.Header{Name: "EXTENSION hstore", Type: "COMMENT"}, "setting the comment on", `extension "hstore"`},
		{pgdump.Header{Name: "LARGE OBJECT 16400", Type: "ACL"}, "granting privileges on", `large object 16400`},
		{pgdump.Header{Name: "DEFAULT PRIVILEGES FOR TABLES", Type: "DEFAULT ACL", Schema: "app", Owner: "shop"}, "setting", `default privileges for tables in schema "app" of role "shop"`},
		{pgdump.Header{Name: "mv", Type: "MATERIALIZED VIEW DATA", Schema: "public"}, "refreshing", `materialized view "public"."mv"`},
		{pgdump.Header{Name: "pub orders", Type: "PUBLICATION TABLE", Schema: "public"}, "adding", `table "public"."orders" to publication "pub"`},
		{pgdump.Header{Name: "CAST (integer AS text)", Type: "CAST"}, "creating", `cast (integer AS text)`},
		{pgdump.Header{Name: "shop", Type: "DATABASE PROPERTIES"}, "setting the properties of", `database "shop"`},
	} {
		op, object := entryObject(tc.h)
		if op != tc.op || object != tc.object {
			t.Errorf("%+v: %q %q, want %q %q", tc.h, op, object, tc.op, tc.object)
		}
	}
}

func TestStatementError(t *testing.T) {
	pe := &pgconn.PgError{Code: "42501", Message: `must be able to SET ROLE "postgres"`, Hint: "a server hint"}
	ch := pgdump.Chunk{SQL: "--\n-- TOC entry 5 (class 2615 OID 2200)\n-- Name: public; Type: SCHEMA; Schema: -; Owner: postgres\n--\n\nALTER SCHEMA public OWNER TO postgres;\n"}
	err := chunkError(ch, "ALTER SCHEMA public OWNER TO postgres;", pe)
	var se *StatementError
	if !errors.As(err, &se) {
		t.Fatalf("%T, want a *StatementError", err)
	}
	if got, want := err.Error(), `creating schema "public": must be able to SET ROLE "postgres" (SQLSTATE 42501)`; got != want {
		t.Errorf("Error() = %q\nwant      %q", got, want)
	}
	lines := strings.Join(se.Lines(), "\n")
	for _, want := range []string{"statement: ALTER SCHEMA public OWNER TO postgres;", "hint: a server hint", "hint: the target login is not a member of role \"postgres\""} {
		if !strings.Contains(lines, want) {
			t.Errorf("Lines() lack %q:\n%s", want, lines)
		}
	}
	var got *pgconn.PgError
	if !errors.As(err, &got) || got != pe {
		t.Error("a StatementError does not unwrap to the server's error")
	}
	// A lost connection is not the statement's fault: it stays what it was, with context.
	lost := newStatementError("creating", `role "a"`, "CREATE ROLE a PASSWORD 'pw'", "CREATE ROLE a PASSWORD 'pw'", io.ErrUnexpectedEOF)
	if errors.As(lost, &se) || !errors.Is(lost, io.ErrUnexpectedEOF) || !retryable(lost) || strings.Contains(lost.Error(), "pw") {
		t.Errorf("a lost connection became %T %q", lost, lost)
	}
	// pg_restore's output, which has no SQLSTATE.
	q := pgdump.QueryError{Message: `role "app" does not exist`, Command: "ALTER DATABASE shop OWNER TO app;"}
	err = restoreQueryError("creating", `database "shop"`, q)
	if got, want := err.Error(), `creating database "shop": role "app" does not exist`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.As(err, &se) || !strings.Contains(se.Hint, "options.roles = true") || retryable(err) {
		t.Errorf("pg_restore's error: %#v", err)
	}
}

// TestExecStatements runs chunks of several statements on a real server and checks that the one
// that failed is named, in and out of a transaction, whatever statements before it returned.
func TestExecStatements(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	c := start15(t)
	ctx := context.Background()
	conn, err := c.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, tc := range []struct {
		name, sql string
		index     int
		failed    string
	}{
		{"ok", "CREATE TABLE ok1 (a int); SELECT 1; ALTER TABLE ok1 OWNER TO postgres;", 0, ""},
		{"first", "CREATE TABLE bad1 (a intt);\nALTER TABLE bad1 OWNER TO postgres;", 0, "CREATE TABLE bad1 (a intt);"},
		{"after rows", "SELECT * FROM generate_series(1, 3);\nSELECT pg_catalog.setval('nope', 1);\nSELECT 1;", 1, "SELECT pg_catalog.setval('nope', 1);"},
		{"third, with comments", "--\n-- Name: x\n--\nCREATE TABLE ok2 (a int);\n\n-- between\nCOMMENT ON TABLE ok2 IS 'a; b';\nALTER TABLE ok2 OWNER TO nobody_here;\n", 2, "ALTER TABLE ok2 OWNER TO nobody_here;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, failed, err := execStatements(ctx, conn, tc.sql)
			if tc.failed == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want the server's", err)
			}
			if k != tc.index || failed != tc.failed {
				t.Errorf("statement %d %q, want %d %q", k, failed, tc.index, tc.failed)
			}
			// The connection is usable afterwards.
			if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
		})
	}

	// The case: a login that is not a superuser restores pg_dump's entry for a schema that
	// belongs to postgres. The second statement of the entry fails, and the error names the schema,
	// that statement and what to do.
	if _, err := conn.Exec(ctx, "CREATE ROLE migrator CREATEDB CREATEROLE; GRANT CREATE ON DATABASE postgres TO migrator; SET ROLE migrator"); err != nil {
		t.Fatal(err)
	}
	ch := pgdump.Chunk{SQL: "--\n-- TOC entry 6 (class 2615 OID 16390)\n-- Name: sales; Type: SCHEMA; Schema: -; Owner: postgres\n--\n\nCREATE SCHEMA sales;\n\n\nALTER SCHEMA sales OWNER TO postgres;\n\n"}
	_, failed, err := execStatements(ctx, conn, ch.SQL)
	err = chunkError(ch, failed, err)
	var se *StatementError
	if !errors.As(err, &se) {
		t.Fatalf("%T %v, want a *StatementError", err, err)
	}
	if got, want := err.Error(), `creating schema "sales": must be member of role "postgres" (SQLSTATE 42501)`; got != want {
		t.Errorf("Error() = %q\nwant      %q", got, want)
	}
	if se.Statement != "ALTER SCHEMA sales OWNER TO postgres;" || !strings.Contains(se.Hint, "options.owner_map") {
		t.Errorf("statement %q, hint %q", se.Statement, se.Hint)
	}
}
