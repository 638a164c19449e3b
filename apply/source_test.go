package apply

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/pgtest"
)

// A prefetch opens the source as Run would (snapshot held, schema dumped, catalog read), is taken
// once and only for its database, and releases everything when nobody took it.
func TestPrefetch(t *testing.T) {
	if !pgtest.Available(15) {
		t.Skip("PostgreSQL 15 is not installed")
	}
	c := pgtest.Start(t, 15)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "app", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 10) g"); err != nil {
		t.Fatal(err)
	}
	tools, err := pgdump.Find("", 15)
	if err != nil {
		t.Skip(err)
	}
	srv := &config.Server{Kind: "source", Name: "src", Host: c.Host, Port: c.Port, User: c.User, Password: c.Password, SSLMode: "disable", DBName: "postgres"}
	m := &config.Migration{Source: srv}
	// holders counts the sessions on app, waiting a little for it to become want (a closed
	// connection's backend exits asynchronously).
	holders := func(want int) int {
		n := -1
		for i := 0; i < 50 && n != want; i++ {
			if i > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			rows, err := c.Query(ctx, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'app' AND pid <> pg_backend_pid()")
			if err != nil {
				t.Fatal(err)
			}
			n, _ = strconv.Atoi(rows[0][0])
		}
		return n
	}

	p := StartPrefetch(ctx, m, tools, "app", 150000, 3)
	if _, ok, _ := p.take("other"); ok {
		t.Fatal("a prefetch of app was taken for another database")
	}
	s, ok, err := p.take("app")
	if !ok || err != nil {
		t.Fatalf("take: ok %v, err %v", ok, err)
	}
	if _, again, _ := p.take("app"); again {
		t.Fatal("a prefetch was taken twice")
	}
	src, err := s.readCatalog()
	if err != nil || len(src.Tables) != 1 || src.Tables[0].Name != "t" {
		t.Fatalf("catalog read in the snapshot: %v, %+v", err, src)
	}
	if s.snapshot == "" || len(s.preChunks) == 0 || len(s.chunks) == 0 {
		t.Fatalf("snapshot %q, %d pre-data chunks, %d post-data chunks", s.snapshot, len(s.preChunks), len(s.chunks))
	}
	if n := holders(1); n != 1 {
		t.Fatalf("%d sessions on app while the prefetch is held, want 1 (the snapshot's holder)", n)
	}
	dir := s.dir
	p.Close() // taken: Close leaves it to the taker
	if n := holders(1); n != 1 {
		t.Fatalf("Close released a taken prefetch: %d sessions on app", n)
	}
	s.close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the dump directory %s is left after close", dir)
	}

	// Never taken: Close ends the snapshot and removes the dump.
	p = StartPrefetch(ctx, m, tools, "app", 150000, 3)
	p.Close()
	if n := holders(0); n != 0 {
		t.Fatalf("%d sessions on app after Close of an untaken prefetch", n)
	}
	if p.src != nil {
		if _, err := os.Stat(p.src.dir); !os.IsNotExist(err) {
			t.Errorf("the dump directory %s is left after Close", p.src.dir)
		}
	}
}
