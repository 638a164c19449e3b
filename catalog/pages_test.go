package catalog_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/internal/pgver"
)

// TestTablePages checks the sizes read of tables never vacuumed nor analyzed: a table of a few
// rows is one page and its empty TOAST table nothing, without asking their files (100,000 such
// tables made that most of the catalog read); an empty table, a larger one and a TOAST table
// that holds rows are their files' sizes.
func TestTablePages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	c := pgtest.Start(t, 15)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	// Each statement's session ends before the catalog is read, which reports its statistics.
	for _, q := range []string{
		"CREATE TABLE tiny (id int, v text) WITH (autovacuum_enabled = off); INSERT INTO tiny VALUES (1, 'x')",
		"CREATE TABLE empty (id int, v text) WITH (autovacuum_enabled = off)",
		"CREATE TABLE big (id int, v text) WITH (autovacuum_enabled = off); INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 5000) g",
		"CREATE TABLE toasted (id int, v text) WITH (autovacuum_enabled = off); ALTER TABLE toasted ALTER v SET STORAGE EXTERNAL; INSERT INTO toasted SELECT g, repeat(md5(g::text), 2000) FROM generate_series(1, 3) g",
	} {
		if err := c.Exec(ctx, "app", q); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	d, err := catalog.ReadDatabase(ctx, conn, "app", pgver.Of(15))
	if err != nil {
		t.Fatal(err)
	}
	size := func(q string) int64 {
		var n int64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	bigPages := size("SELECT pg_relation_size('big') / 8192")
	toastBytes := size("SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'toasted'::regclass")
	if bigPages < 10 || toastBytes < 8*8192 {
		t.Fatalf("the dataset is not as meant: big has %d pages, toasted's TOAST table %d bytes", bigPages, toastBytes)
	}
	for _, tc := range []struct {
		name         string
		pages, bytes int64
	}{
		{"tiny", 1, 8192},
		{"empty", 0, 0},
		{"big", bigPages, bigPages * 8192},
		{"toasted", 1, 8192 + toastBytes},
	} {
		tb := d.Table("public", tc.name)
		if tb == nil {
			t.Fatalf("table %s not read", tc.name)
		}
		if tb.Pages != tc.pages || tb.SizeBytes != tc.bytes {
			t.Errorf("%s: %d pages, %d bytes; want %d pages, %d bytes", tc.name, tb.Pages, tb.SizeBytes, tc.pages, tc.bytes)
		}
	}
}
