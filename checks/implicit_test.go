package checks_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/checks"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/internal/verify"
)

// implicitFixture holds every shape of object the server creates as part of another one: range
// types (two constructors each; on 14+ also a multirange type, its array, three more constructors
// and a cast), composite types and tables (row types and their arrays), arrays of user types, a
// table whose values live in TOAST, a view (its rule), identity and serial sequences, and the
// members of two extensions (hstore, cube: types, functions, operators, operator classes).
const implicitFixture = `
CREATE EXTENSION hstore;
CREATE EXTENSION cube;
CREATE ROLE shop_owner;
CREATE SCHEMA shop AUTHORIZATION shop_owner;
SET ROLE shop_owner;
CREATE TYPE shop.floatrange AS RANGE (subtype = float8);
CREATE FUNCTION shop.f8diff(float8, float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT $1 - $2';
CREATE TYPE shop.f8span AS RANGE (subtype = float8, subtype_diff = shop.f8diff);
CREATE TYPE shop.pair AS (a int, b text);
CREATE TYPE shop.mood AS ENUM ('sad', 'ok');
CREATE DOMAIN shop.posint AS int CHECK (VALUE > 0);
CREATE TABLE shop.doc (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text, tags public.hstore, box public.cube,
	span shop.floatrange, pairs shop.pair[], moods shop.mood[], n shop.posint, spans shop.f8span[]);
CREATE TABLE shop.line (id serial PRIMARY KEY, doc int REFERENCES shop.doc);
CREATE VIEW shop.doc_v AS SELECT id, body FROM shop.doc;
CREATE FUNCTION shop.add(float8, float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
CREATE AGGREGATE shop.total(float8) (SFUNC = shop.add, STYPE = float8); -- LANGUAGE internal, yet anyone's
CREATE FUNCTION shop.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
CREATE TABLE shop.sale (id int, day date) PARTITION BY RANGE (day);
CREATE TABLE shop.sale_2025 PARTITION OF shop.sale FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TRIGGER sale_noop AFTER INSERT ON shop.sale FOR EACH ROW EXECUTE PROCEDURE shop.noop(); -- cloned on each partition
CREATE FUNCTION shop.first_pair(shop.doc) RETURNS shop.pair LANGUAGE sql AS 'SELECT $1.pairs[1]';
INSERT INTO shop.doc (body, tags, box, span, pairs, moods, n, spans)
	SELECT repeat(md5(g::text), 1000), 'a=>1', '(1,2)', '[1.5,2.5)', ARRAY[ROW(g, 'x')::shop.pair], '{ok}', g, ARRAY['[1,2)'::shop.f8span]
	FROM generate_series(1, 3) g;
RESET ROLE;
`

// TestImplicitObjects reads the same database on servers before (11, 13) and after (15, 16)
// multirange types: the objects the server makes on its own are neither the user's to create as a
// superuser nor counted, so the inventories match across majors, plan's "No changes" comparison
// holds, and a non-superuser target login passes superuser_objects.
func TestImplicitObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL servers")
	}
	majors := []int{11, 13, 15, 16}
	for _, m := range majors {
		if !pgtest.Available(m) && os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL %d binaries not installed (make pg-versions)", m)
		}
	}
	clusters := map[int]*pgtest.Cluster{}
	for _, m := range majors {
		c := start(t, m)
		exec(t, c, "postgres", "CREATE DATABASE app")
		exec(t, c, "app", implicitFixture)
		exec(t, c, "postgres", `CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD 'migrator-pw' IN ROLE shop_owner`)
		clusters[m] = c
	}
	// What the user created, whatever the major: one trigger (not its clone on the partition),
	// functions f8diff, add, noop and first_pair, the aggregate total (not the range
	// or multirange constructors, not hstore's or cube's), two range types (not their multiranges),
	// one composite type (not the tables' row types), and no array type.
	want := map[string]int{"schemas": 1, "tables": 4, "triggers": 1, "views": 1, "sequences": 2, "indexes": 2, "functions": 4, "aggregates": 1,
		"range_types": 2, "composite_types": 1, "enums": 1, "domains": 1, "constraints": 4}
	wantOwners := map[string]int{"shop_owner": 18}
	for _, pair := range [][2]int{{13, 15}, {13, 16}, {11, 15}} {
		t.Run(fmt.Sprintf("%d-%d", pair[0], pair[1]), func(t *testing.T) {
			src, tgt := clusters[pair[0]], clusters[pair[1]]
			in := readInput(t, super(src), login{tgt, "migrator", "migrator-pw"}, migration(), "app")
			sdb, tdb := in.SourceDBs["app"], in.TargetDBs["app"]
			vals := checks.Run(in)
			expect(t, vals, "superuser_objects", "app", checks.Succeeded, "no object needs a superuser to be created")
			for _, d := range []*catalog.Database{sdb, tdb} {
				if !maps.Equal(d.Objects, want) {
					t.Errorf("objects = %v, want %v", d.Objects, want)
				}
				if !maps.Equal(d.Owners, wantOwners) {
					t.Errorf("owners = %v, want %v", d.Owners, wantOwners)
				}
				if len(d.SuperuserObjects) > 0 {
					t.Errorf("superuser objects = %v", d.SuperuserObjects)
				}
			}
			if diffs := verify.Inventory("app", sdb, tdb); len(diffs) > 0 {
				t.Errorf("verify's inventory differs: %v", diffs)
			}
			if !catalog.SameObjects(sdb, tdb) {
				t.Errorf("SameObjects = false")
			}
			exts := func(d *catalog.Database) []string {
				var out []string
				for _, e := range d.Extensions {
					out = append(out, e.Name)
				}
				return out
			}
			if got := exts(sdb); !slices.Equal(got, []string{"cube", "hstore", "plpgsql"}) || !slices.Equal(exts(tdb), got) {
				t.Errorf("extensions = %v and %v", got, exts(tdb))
			}
		})
	}
}

// TestMultirangeNames: a range type of a 13 source whose multirange name (made on 14+) another
// type, a table or a sequence already has fails plan (14+ check every relation's name against
// the types, a sequence's too); renamed as the message says, it passes.
func TestMultirangeNames(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL servers")
	}
	for _, m := range []int{13, 15} {
		if !pgtest.Available(m) && os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL %d binaries not installed (make pg-versions)", m)
		}
	}
	src, tgt := start(t, 13), start(t, 15)
	exec(t, src, "postgres", "CREATE DATABASE app")
	exec(t, src, "app", `CREATE TYPE floatrange AS RANGE (subtype = float8);
		CREATE TABLE floatmultirange (id int);
		CREATE TYPE span AS RANGE (subtype = int4);
		CREATE TYPE span_multirange AS ENUM ('a');
		CREATE TYPE daterange2 AS RANGE (subtype = date);
		CREATE SEQUENCE datemultirange2`)
	v := expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "multirange_names", "app", checks.Failed,
		`^3 range type\(s\) would get a multirange type on PostgreSQL 15 whose name another object of the schema has`)
	want := []string{"range type public.daterange2: multirange public.datemultirange2 is taken by sequence public.datemultirange2",
		"range type public.floatrange: multirange public.floatmultirange is taken by table public.floatmultirange",
		"range type public.span: multirange public.span_multirange is taken by type public.span_multirange"}
	if !slices.Equal(v.Objects, want) {
		t.Errorf("objects = %q, want %q", v.Objects, want)
	}
	exec(t, src, "app", "ALTER TABLE floatmultirange RENAME TO floats; ALTER TYPE span RENAME TO int_span; ALTER SEQUENCE datemultirange2 RENAME TO date_seq")
	expect(t, checks.Run(readInput(t, super(src), super(tgt), migration(), "app")), "multirange_names", "app", checks.Succeeded,
		"every range type can get its multirange type on PostgreSQL 15")
	// Between servers that both have multirange types, or both lack them, nothing changes.
	expect(t, checks.Run(readInput(t, super(src), super(src), migration(), "app")), "multirange_names", "app", checks.Succeeded,
		"range types keep the multirange types they have")
}

// TestExtensionObjectsNotCounted: what CREATE EXTENSION makes — a table with its primary key
// index, a check constraint, a trigger, a domain with its constraint, functions, types — is the
// extension's, not the user's: none of it is counted (a newer version on the target may have more
// or fewer), and the user's own table next to it is. The extension is installed into PostgreSQL
// 15's share directory.
func TestExtensionObjectsNotCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL servers")
	}
	dir := "/usr/share/postgresql/15/extension"
	if !pgtest.Available(15) || syscall.Access(dir, 2 /* W_OK */) != nil {
		t.Skipf("PostgreSQL 15 with a writable %s needed", dir)
	}
	files := map[string]string{
		"pgferry_members.control": "default_version = '1.0'\nrelocatable = false\nschema = public\n",
		"pgferry_members--1.0.sql": `CREATE DOMAIN members_pos AS int CHECK (VALUE > 0);
CREATE TYPE members_kind AS ENUM ('a', 'b');
CREATE TYPE members_span AS RANGE (subtype = float8);
CREATE FUNCTION members_touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TABLE members_item (id members_pos PRIMARY KEY, kind members_kind, n int CHECK (n > 0), UNIQUE (kind, n));
CREATE INDEX members_item_n ON members_item (n);
CREATE TRIGGER members_item_touch BEFORE UPDATE ON members_item FOR EACH ROW EXECUTE FUNCTION members_touch();
CREATE VIEW members_view AS SELECT id FROM members_item;
`,
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(path) })
	}
	c := start(t, 15)
	exec(t, c, "postgres", "CREATE DATABASE app")
	exec(t, c, "app", "CREATE EXTENSION pgferry_members; CREATE TABLE mine (id int PRIMARY KEY, item int REFERENCES members_item)")
	in := readInput(t, super(c), super(c), migration(), "app")
	d := in.SourceDBs["app"]
	if want := map[string]int{"tables": 1, "indexes": 1, "constraints": 2}; !maps.Equal(d.Objects, want) {
		t.Errorf("objects = %v, want %v", d.Objects, want)
	}
	if want := map[string]int{c.User: 1}; !maps.Equal(d.Owners, want) {
		t.Errorf("owners = %v, want %v", d.Owners, want)
	}
	if len(d.Tables) != 1 || len(d.Indexes) != 1 || len(d.SuperuserObjects) > 0 {
		t.Errorf("tables %v, indexes %v, superuser objects %v", d.Tables, d.Indexes, d.SuperuserObjects)
	}
}
