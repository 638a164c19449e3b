package pgconn

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgtest"
)

// TestConnectOneShotRoundTrips: a catalog read on a ConnectOneShot session takes one round trip
// per query (one Sync each: an unnamed statement parsed, bound and run at once), where a Connect
// session takes two (a named statement prepared first, then run), and reads the same instance.
func TestConnectOneShotRoundTrips(t *testing.T) {
	if !pgtest.Available(15) {
		t.Skip("PostgreSQL 15 binaries not installed")
	}
	c := pgtest.Start(t, 15)
	srv := &config.Server{Kind: "source", Name: "src", Host: c.Host, Port: c.Port, User: c.User, Password: c.Password, SSLMode: "disable", DBName: "postgres"}
	ctx := context.Background()
	read := func(connect func(context.Context, *config.Server, string) (*pgx.Conn, error)) (syncs, executes int, in *catalog.Instance) {
		conn, err := connect(ctx, srv, "")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var sent bytes.Buffer
		conn.PgConn().Frontend().Trace(&sent, pgproto3.TracerOptions{SuppressTimestamps: true})
		in, err = catalog.ReadInstance(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		conn.PgConn().Frontend().Untrace()
		for line := range strings.Lines(sent.String()) {
			switch f := strings.Fields(line); {
			case len(f) >= 2 && f[0] == "F" && f[1] == "Sync":
				syncs++
			case len(f) >= 2 && f[0] == "F" && (f[1] == "Execute" || f[1] == "Query"):
				executes++
			}
		}
		return syncs, executes, in
	}
	syncs, queries, in := read(Connect)
	if queries < 10 || syncs != 2*queries {
		t.Errorf("Connect: %d round trips for %d queries, want two each", syncs, queries)
	}
	t.Logf("Connect: %d round trips, %d queries", syncs, queries)
	syncs, queries, in1 := read(ConnectOneShot)
	t.Logf("ConnectOneShot: %d round trips, %d queries", syncs, queries)
	if queries < 10 || syncs != queries {
		t.Errorf("ConnectOneShot: %d round trips for %d queries, want one each", syncs, queries)
	}
	if in.VersionNum != in1.VersionNum || len(in.Settings) != len(in1.Settings) || len(in.Roles) != len(in1.Roles) || len(in.Databases) != len(in1.Databases) {
		t.Errorf("ConnectOneShot read another instance: %+v, want %+v", in1, in)
	}
}
