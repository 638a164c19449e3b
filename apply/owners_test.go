package apply

import (
	"testing"

	"github.com/pgferry/pgferry/internal/pgdump"
)

// Chunks as pg_restore 15 prints them for a PostgreSQL 13 database.
const (
	chunkPublic = `--
-- TOC entry 4 (class 2615 OID 2200)
-- Name: public; Type: SCHEMA; Schema: -; Owner: postgres
-- Data Pos: 0
--

-- *not* creating schema, since initdb creates it


ALTER SCHEMA public OWNER TO postgres;

`
	chunkFunction = `--
-- TOC entry 202 (class 1255 OID 16393)
-- Dependencies: 4
-- Name: f(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.f() RETURNS text
    LANGUAGE sql
    AS $$ SELECT 'ALTER TABLE x OWNER TO postgres;' $$;


ALTER FUNCTION public.f() OWNER TO postgres;

`
	chunkOddTable = `--
-- TOC entry 201 (class 1259 OID 16390)
-- Name: Odd Tbl; Type: TABLE; Schema: public; Owner: Weird Role
--

CREATE TABLE public."Odd Tbl" (
    id integer
);


ALTER TABLE public."Odd Tbl" OWNER TO "Weird Role";

SET default_tablespace = '';

SET default_table_access_method = heap;

`
	chunkBlob = `--
-- TOC entry 2926 (class 2613 OID 16500)
-- Name: 16500; Type: BLOB; Schema: -; Owner: postgres
--

SELECT pg_catalog.lo_create('16500');
ALTER LARGE OBJECT 16500 OWNER TO postgres;

`
	chunkACL = `--
-- TOC entry 2937 (class 0 OID 0)
-- Dependencies: 200
-- Name: TABLE t; Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON TABLE public.t FROM postgres;
GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE ON TABLE public.t TO postgres;
GRANT SELECT ON TABLE public.t TO PUBLIC;
GRANT SELECT ON TABLE public.t TO app;
GRANT SELECT ON TABLE public.t TO "Weird Role" WITH GRANT OPTION;
SET SESSION AUTHORIZATION "Weird Role";
GRANT SELECT ON TABLE public.t TO app;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION postgres;
GRANT SELECT ON TABLE public.t TO reader;
RESET SESSION AUTHORIZATION;

`
	chunkDefaultACL = `--
-- TOC entry 1714 (class 826 OID 16397)
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES  TO app;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public REVOKE ALL ON TABLES  FROM postgres;

`
	chunkDefaultACLOther = `--
-- TOC entry 1715 (class 826 OID 16398)
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: -; Owner: Weird Role
--

ALTER DEFAULT PRIVILEGES FOR ROLE "Weird Role" GRANT SELECT ON TABLES  TO postgres;

`
	chunkPublicACL15 = `--
-- TOC entry 3370 (class 0 OID 0)
-- Dependencies: 5
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner
--

GRANT CREATE ON SCHEMA public TO PUBLIC;

`
	chunkComment = `--
-- TOC entry 3000 (class 0 OID 0)
-- Name: TABLE t; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.t IS 'GRANT ALL ON TABLE x TO postgres;
ALTER TABLE t OWNER TO postgres;';

`
)

func TestOwnerRewrite(t *testing.T) {
	toLogin := &ownerRewriter{m: map[string]string{"postgres": "flexadmin"}, login: "flexadmin"}
	toThird := &ownerRewriter{m: map[string]string{"postgres": "App Admin"}, login: "flexadmin"}
	super := &ownerRewriter{m: map[string]string{"postgres": "app_admin"}, login: "postgres", super: true}
	none := &ownerRewriter{m: map[string]string{}, login: "flexadmin"}
	header := func(sql string) string { return sql[:pgdump.HeaderLen(sql)] }
	for name, tc := range map[string]struct {
		o        *ownerRewriter
		in, want string
	}{
		"the public schema's owner": {toLogin, chunkPublic, header(chunkPublic) + "\n-- *not* creating schema, since initdb creates it\n\n\nALTER SCHEMA public OWNER TO \"flexadmin\";\n\n"},
		"a function: its owner, never its body": {toLogin, chunkFunction, header(chunkFunction) + `
CREATE FUNCTION public.f() RETURNS text
    LANGUAGE sql
    AS $$ SELECT 'ALTER TABLE x OWNER TO postgres;' $$;


ALTER FUNCTION public.f() OWNER TO "flexadmin";

`},
		"a quoted owner mapped to a quoted role": {&ownerRewriter{m: map[string]string{"Weird Role": "App Admin"}, login: "flexadmin"}, chunkOddTable,
			header(chunkOddTable) + "\nCREATE TABLE public.\"Odd Tbl\" (\n    id integer\n);\n\n\nALTER TABLE public.\"Odd Tbl\" OWNER TO \"App Admin\";\n\nSET default_tablespace = '';\n\nSET default_table_access_method = heap;\n\n"},
		"an owner not mapped": {toLogin, chunkOddTable, chunkOddTable},
		"a large object":      {toThird, chunkBlob, header(chunkBlob) + "\nSELECT pg_catalog.lo_create('16500');\nALTER LARGE OBJECT 16500 OWNER TO \"App Admin\";\n\n"},
		"grants to and by a mapped role, to the login": {toLogin, chunkACL, header(chunkACL) + `
REVOKE ALL ON TABLE public.t FROM "flexadmin";
GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE ON TABLE public.t TO "flexadmin";
GRANT SELECT ON TABLE public.t TO PUBLIC;
GRANT SELECT ON TABLE public.t TO app;
GRANT SELECT ON TABLE public.t TO "Weird Role" WITH GRANT OPTION;
SET ROLE "Weird Role";
GRANT SELECT ON TABLE public.t TO app;
RESET ROLE;
SET ROLE "flexadmin";
GRANT SELECT ON TABLE public.t TO reader;
RESET ROLE;

`},
		"grants by a mapped role, to a third role": {toThird, chunkACL, header(chunkACL) + `SET ROLE "App Admin";

REVOKE ALL ON TABLE public.t FROM "App Admin";
GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE ON TABLE public.t TO "App Admin";
GRANT SELECT ON TABLE public.t TO PUBLIC;
GRANT SELECT ON TABLE public.t TO app;
GRANT SELECT ON TABLE public.t TO "Weird Role" WITH GRANT OPTION;
SET ROLE "Weird Role";
GRANT SELECT ON TABLE public.t TO app;
SET ROLE "App Admin";
SET ROLE "App Admin";
GRANT SELECT ON TABLE public.t TO reader;
SET ROLE "App Admin";

RESET ROLE;
`},
		"a superuser login keeps SET SESSION AUTHORIZATION": {super, chunkACL, header(chunkACL) + `
REVOKE ALL ON TABLE public.t FROM "app_admin";
GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE ON TABLE public.t TO "app_admin";
GRANT SELECT ON TABLE public.t TO PUBLIC;
GRANT SELECT ON TABLE public.t TO app;
GRANT SELECT ON TABLE public.t TO "Weird Role" WITH GRANT OPTION;
SET SESSION AUTHORIZATION "Weird Role";
GRANT SELECT ON TABLE public.t TO app;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION "app_admin";
GRANT SELECT ON TABLE public.t TO reader;
RESET SESSION AUTHORIZATION;

`},
		"nothing mapped, a login that is not a superuser: SET ROLE": {none, chunkACL, header(chunkACL) + `SET ROLE "postgres";

REVOKE ALL ON TABLE public.t FROM postgres;
GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE ON TABLE public.t TO postgres;
GRANT SELECT ON TABLE public.t TO PUBLIC;
GRANT SELECT ON TABLE public.t TO app;
GRANT SELECT ON TABLE public.t TO "Weird Role" WITH GRANT OPTION;
SET ROLE "Weird Role";
GRANT SELECT ON TABLE public.t TO app;
SET ROLE "postgres";
SET ROLE "postgres";
GRANT SELECT ON TABLE public.t TO reader;
SET ROLE "postgres";

RESET ROLE;
`},
		"default privileges for a mapped role": {toLogin, chunkDefaultACL, header(chunkDefaultACL) + `
ALTER DEFAULT PRIVILEGES FOR ROLE "flexadmin" IN SCHEMA public GRANT SELECT ON TABLES  TO app;
ALTER DEFAULT PRIVILEGES FOR ROLE "flexadmin" IN SCHEMA public REVOKE ALL ON TABLES  FROM "flexadmin";

`},
		"default privileges granted to a mapped role": {toThird, chunkDefaultACLOther, header(chunkDefaultACLOther) + `
ALTER DEFAULT PRIVILEGES FOR ROLE "Weird Role" GRANT SELECT ON TABLES  TO "App Admin";

`},
		"privileges of public owned by pg_database_owner: not run as it": {toLogin, chunkPublicACL15, chunkPublicACL15},
		"a comment of a mapped owner is left alone":                      {toLogin, chunkComment, chunkComment},
		"a superuser login without a mapping changes nothing":            {&ownerRewriter{m: map[string]string{}, super: true}, chunkACL, chunkACL},
	} {
		t.Run(name, func(t *testing.T) {
			got := tc.o.rewrite(pgdump.Chunk{DumpID: 7, SQL: tc.in, Deps: []int{4}})
			if got.SQL != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got.SQL, tc.want)
			}
			if got.DumpID != 7 || len(got.Deps) != 1 {
				t.Errorf("the chunk's identity changed: %+v", got)
			}
		})
	}
}

func TestChunkHeader(t *testing.T) {
	for in, want := range map[string][2]string{
		chunkOddTable:   {"TABLE", "Weird Role"},
		chunkDefaultACL: {"DEFAULT ACL", "postgres"},
		"-- TOC entry 1 (class 1 OID 1)\n--\nSELECT 1;\n": {"", ""},
	} {
		h, _ := pgdump.Chunk{SQL: in}.Header()
		if h.Type != want[0] || h.Owner != want[1] {
			t.Errorf("Header(%q) = %q, %q; want %q", in[:40], h.Type, h.Owner, want)
		}
	}
}

// TestSchemaPrivilegesFirst: each schema's privileges run right after the schema, before the
// objects given to roles that need CREATE on it; public's from 15 on, which has no entry of its
// own (pg_database_owner owns it, pg_dump does not create it), run first.
func TestSchemaPrivilegesFirst(t *testing.T) {
	chunk := func(id int, header string, deps ...int) pgdump.Chunk {
		return pgdump.Chunk{DumpID: id, Deps: deps, SQL: "--\n-- TOC entry 1 (class 0 OID 0)\n-- " + header + "\n--\n\nSELECT 1;\n"}
	}
	s := &sourceDump{byID: map[int]tocEntry{
		10: {Desc: "SCHEMA"}, 11: {Desc: "TABLE"}, 12: {Desc: "TABLE"}, 13: {Desc: "ACL"}, 14: {Desc: "ACL"}, 15: {Desc: "ACL"},
	}}
	s.preChunks = []pgdump.Chunk{
		chunk(10, "Name: s; Type: SCHEMA; Schema: -; Owner: other", 1),
		chunk(11, "Name: t; Type: TABLE; Schema: s; Owner: boss", 10),
		chunk(12, "Name: t; Type: TABLE; Schema: public; Owner: boss", 6),
		chunk(13, "Name: SCHEMA s; Type: ACL; Schema: -; Owner: other", 10),
		chunk(14, "Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner", 6),
		chunk(15, "Name: TABLE t; Type: ACL; Schema: public; Owner: boss", 12),
	}
	s.schemaPrivilegesFirst()
	var got []int
	for _, c := range s.preChunks {
		got = append(got, c.DumpID)
	}
	want := []int{14, 10, 13, 11, 12, 15}
	if len(got) != len(want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
}
