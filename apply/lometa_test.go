package apply

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestLargeObjectMeta: large objects created empty on the target (as when pg_dump 17+ leaves their
// metadata to the data section) get the source's privileges and comments from largeObjectMeta's
// statements: lomacl and the comment equal the source's, with and without grant options and
// PUBLIC, and an object with default privileges and no comment needs none.
func TestLargeObjectMeta(t *testing.T) {
	c := start15(t)
	ctx := context.Background()
	for _, q := range []string{"CREATE ROLE lo_owner", "CREATE ROLE lo_reader", "CREATE ROLE \"lo Writer\"", "CREATE DATABASE src", "CREATE DATABASE tgt"} {
		if err := c.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Exec(ctx, "src", `SELECT lo_create(1001); SELECT lo_create(1002); SELECT lo_create(1003);
		ALTER LARGE OBJECT 1001 OWNER TO lo_owner; GRANT SELECT ON LARGE OBJECT 1001 TO lo_reader;
		GRANT UPDATE ON LARGE OBJECT 1001 TO "lo Writer" WITH GRANT OPTION; GRANT SELECT ON LARGE OBJECT 1001 TO PUBLIC;
		COMMENT ON LARGE OBJECT 1001 IS 'it''s a scan';
		ALTER LARGE OBJECT 1002 OWNER TO lo_owner; REVOKE ALL ON LARGE OBJECT 1002 FROM lo_owner;
		COMMENT ON LARGE OBJECT 1003 IS 'plain'`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "tgt", `SELECT lo_create(1001); SELECT lo_create(1002); SELECT lo_create(1003); SELECT lo_create(1004);
		ALTER LARGE OBJECT 1001 OWNER TO lo_owner; ALTER LARGE OBJECT 1002 OWNER TO lo_owner`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "src", "SELECT lo_create(1004)"); err != nil {
		t.Fatal(err)
	}
	src, err := pgx.Connect(ctx, c.DSN("src"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	meta, err := largeObjectMeta(ctx, src, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if meta[1004] != nil {
		t.Errorf("an object with default privileges and no comment got statements: %q", meta[1004])
	}
	for _, oid := range []uint32{1001, 1002, 1003} {
		for _, q := range meta[oid] {
			if err := c.Exec(ctx, "tgt", q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	const q = `SELECT m.oid, pg_get_userbyid(m.lomowner), coalesce(array_to_string(m.lomacl, ','), '-'), coalesce(d.description, '-')
		FROM pg_largeobject_metadata m LEFT JOIN pg_description d ON d.classoid = 'pg_largeobject'::regclass AND d.objoid = m.oid ORDER BY 1`
	want, err := c.Query(ctx, "src", q)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Query(ctx, "tgt", q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("target has %d large objects, source %d", len(got), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Errorf("large object %s: target %q, source %q", want[i][0], got[i], want[i])
				break
			}
		}
	}
	// Without roles, only comments.
	meta, err = largeObjectMeta(ctx, src, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range meta[1001] {
		if s[:7] != "COMMENT" {
			t.Errorf("without roles, a privilege statement: %q", s)
		}
	}
}
