package catalog_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgtest"
)

// sampleDatabase starts a PostgreSQL 15 server with database app made of the sample database
// (testdata/sample) and then extra (if any), and returns the server and a connection to app,
// closed when the test ends. It skips under -short.
func sampleDatabase(t *testing.T, extra string) (*pgtest.Cluster, *pgx.Conn) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	sample, err := os.ReadFile("../testdata/sample/sample.sql")
	if err != nil {
		t.Fatal(err)
	}
	c := pgtest.Start(t, 15)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	sql := string(sample)
	if extra != "" {
		sql += "; " + extra
	}
	if err := c.Exec(ctx, "app", sql); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return c, conn
}
