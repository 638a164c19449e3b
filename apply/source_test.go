package apply

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
)

// A prefetch opens the source as Run would (snapshot held, schema dumped, catalog read), is taken
// once and only for its database, and releases everything when nobody took it.
func TestPrefetch(t *testing.T) {
	c := start15(t)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "app", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 10) g"); err != nil {
		t.Fatal(err)
	}
	tools, err := pgdump.Find("", 1500, 1500) // a 15 source and target: pg_dump 15
	if err != nil {
		t.Skip(err)
	}
	m := &config.Migration{Source: serverOf(c, "source", c.User, c.Password)}
	// The dumps go to a temporary directory of this test's own, checked empty after each release.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	leftovers := func() []os.DirEntry {
		es, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
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

	p := StartPrefetch(ctx, m, tools, "app", 150000, 3, "", nil)
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
	if _, err := os.Stat(s.dump); err != nil {
		t.Fatalf("the dump: %v", err)
	}
	// The database's own script is printed with the dump, before the run needs it.
	if !strings.Contains(string(s.createScript), "CREATE DATABASE app") {
		t.Fatalf("the database's script, printed with the dump:\n%s", s.createScript)
	}
	if n := holders(1); n != 1 {
		t.Fatalf("%d sessions on app while the prefetch is held, want 1 (the snapshot's holder)", n)
	}
	p.Close() // taken: Close leaves it to the taker
	if n := holders(1); n != 1 {
		t.Fatalf("Close released a taken prefetch: %d sessions on app", n)
	}
	s.close()
	if n := holders(0); n != 0 {
		t.Fatalf("%d sessions on app after close", n)
	}
	if es := leftovers(); len(es) != 0 {
		t.Errorf("left in the temporary directory after close: %v", es)
	}

	// Never taken, and done opening: Close ends the snapshot and removes the dump. Dumped comes
	// first: pg_dump's session has ended, the holder's remains, the archive is written.
	p = StartPrefetch(ctx, m, tools, "app", 150000, 3, "", nil)
	<-p.Dumped()
	if n, es := holders(1), leftovers(); n != 1 || len(es) != 1 {
		t.Fatalf("once Dumped: %d sessions on app (want the holder's only), %d dump directories", n, len(es))
	}
	<-p.done
	if p.err != nil || holders(1) != 1 || len(leftovers()) != 1 {
		t.Fatalf("the untaken prefetch did not open: err %v, %d sessions, %d dump directories", p.err, holders(1), len(leftovers()))
	}
	p.Close()
	if n := holders(0); n != 0 {
		t.Fatalf("%d sessions on app after Close of an untaken prefetch", n)
	}
	if es := leftovers(); len(es) != 0 {
		t.Errorf("left in the temporary directory after Close: %v", es)
	}

	// A prefetch that fails still closes Dumped (the probe waits for it).
	p = StartPrefetch(ctx, m, tools, "missing", 150000, 3, "", nil)
	<-p.Dumped()
	<-p.done
	if p.err == nil {
		t.Fatal("a prefetch of a missing database did not fail")
	}
	p.Close()
	var none *Prefetch
	<-none.Dumped()
}
