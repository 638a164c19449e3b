package pgdump

import (
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		name string
		sql  string
		want []string
	}{
		{"one", "CREATE SCHEMA s;", []string{"CREATE SCHEMA s;"}},
		{"header and two", "--\n-- Name: s; Type: SCHEMA; Schema: -; Owner: o\n--\n\nCREATE SCHEMA s;\n\n\nALTER SCHEMA s OWNER TO o;\n\n",
			[]string{"CREATE SCHEMA s;", "ALTER SCHEMA s OWNER TO o;"}},
		{"comment only", "--\n-- a comment; with a semicolon\n/* and; this */\n", nil},
		{"strings", "COMMENT ON TABLE t IS 'a; b''c;';\nSELECT 1;", []string{"COMMENT ON TABLE t IS 'a; b''c;';", "SELECT 1;"}},
		{"escape string", `COMMENT ON TABLE t IS E'a\'; b';` + "\nSELECT 2;", []string{`COMMENT ON TABLE t IS E'a\'; b';`, "SELECT 2;"}},
		{"quoted identifier", `CREATE TABLE "a;""b" (x int);` + "\nSELECT 3;", []string{`CREATE TABLE "a;""b" (x int);`, "SELECT 3;"}},
		{"dollar quotes", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $_$SELECT 1; SELECT $$x;$$$_$;\nALTER FUNCTION f() OWNER TO o;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $_$SELECT 1; SELECT $$x;$$$_$;", "ALTER FUNCTION f() OWNER TO o;"}},
		{"parameter is no dollar quote", "PREPARE p AS SELECT $1;\nSELECT 4;", []string{"PREPARE p AS SELECT $1;", "SELECT 4;"}},
		{"nested comment", "SELECT /* a /* b; */ c; */ 5;\nSELECT 6;", []string{"SELECT /* a /* b; */ c; */ 5;", "SELECT 6;"}},
		{"begin atomic", "CREATE FUNCTION public.f(x integer) RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN x > 0 THEN 1 ELSE 2 END;\n SELECT 3;\nEND;\n\nALTER FUNCTION public.f(x integer) OWNER TO o;",
			[]string{"CREATE FUNCTION public.f(x integer) RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN x > 0 THEN 1 ELSE 2 END;\n SELECT 3;\nEND;", "ALTER FUNCTION public.f(x integer) OWNER TO o;"}},
		{"or replace procedure", "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nSELECT 7;",
			[]string{"CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END;", "SELECT 7;"}},
		{"begin outside a routine", "BEGIN;\nSELECT 8;\nEND;", []string{"BEGIN;", "SELECT 8;", "END;"}},
		{"no final semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1;", "SELECT 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitStatements(tc.sql); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestChunkHeader(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want Header
		ok   bool
	}{
		{"--\n-- TOC entry 5 (class 2615 OID 2200)\n-- Name: public; Type: SCHEMA; Schema: -; Owner: postgres\n--\n\nALTER SCHEMA public OWNER TO postgres;\n",
			Header{Name: "public", Type: "SCHEMA", Owner: "postgres"}, true},
		{"--\n-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: public; Owner: shop; Tablespace: fast\n--\n\nALTER TABLE ONLY x;\n",
			Header{Name: "orders orders_pkey", Type: "CONSTRAINT", Schema: "public", Owner: "shop"}, true},
		{"--\n-- Name: TABLE orders; Type: ACL; Schema: public; Owner: -\n--\n", Header{Name: "TABLE orders", Type: "ACL", Schema: "public"}, true},
		{"SET x = 1;\n-- Name: not; Type: HEADER; Schema: -; Owner: -\n", Header{}, false},
	} {
		got, ok := Chunk{SQL: tc.sql}.Header()
		if got != tc.want || ok != tc.ok {
			t.Errorf("Header(%q) = %+v, %v; want %+v, %v", tc.sql, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRunErrorQueryError(t *testing.T) {
	stderr := `pg_restore: while PROCESSING TOC:
pg_restore: from TOC entry 3350; 1262 16384 DATABASE shop shop_owner
pg_restore: error: could not execute query: ERROR:  permission denied to set parameter "log_statement"
DETAIL:  some detail
HINT:  some hint
Command was: ALTER DATABASE shop SET log_statement TO 'all';
pg_restore: warning: errors ignored on restore: 1
`
	e := &RunError{Tool: "pg_restore", Stderr: stderr}
	q, ok := e.QueryError()
	want := QueryError{Message: `permission denied to set parameter "log_statement"`, Detail: "some detail", Hint: "some hint", Command: "ALTER DATABASE shop SET log_statement TO 'all';"}
	if !ok || q != want {
		t.Errorf("QueryError() = %+v, %v\nwant %+v", q, ok, want)
	}
	multi := "pg_restore: error: could not execute query: ERROR:  tablespace \"fast\" does not exist\nCommand was: CREATE DATABASE shop WITH TEMPLATE = template0\n    TABLESPACE = fast;\n"
	if q, ok := (&RunError{Stderr: multi}).QueryError(); !ok || q.Message != `tablespace "fast" does not exist` || q.Command != "CREATE DATABASE shop WITH TEMPLATE = template0\n    TABLESPACE = fast;" {
		t.Errorf("QueryError() = %+v, %v", q, ok)
	}
	if _, ok := (&RunError{Stderr: "pg_restore: error: connection to server failed: refused"}).QueryError(); ok {
		t.Error("a connection failure read as a refused statement")
	}
}
