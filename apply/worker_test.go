package apply

import (
	"context"
	"testing"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// A worker's sessions compile nothing (noJIT): the source's, inside the exported snapshot, and the
// target's, each set in a message it sends anyway. Verification's connections, and a materialized
// view's refresh in post-data, keep the servers' JIT setting.
func TestWorkerSessionsNoJIT(t *testing.T) {
	c := start15(t)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	m := &config.Migration{Source: serverOf(c, "source", c.User, c.Password), Target: serverOf(c, "target", c.User, c.Password)}
	holder, err := pgconn.Connect(ctx, m.Source, "app")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	var snapshot string
	if _, err := holder.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	if err := holder.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		t.Fatal(err)
	}
	v15 := state.Identity{VersionNum: 150000}
	r := &Runner{m: m, opt: Options{Plan: &plan.Plan{Source: v15, Target: v15}, State: state.New("m")}, floatDg: 3}
	d := &dbRun{r: r, db: "app", sourceDump: &sourceDump{snapshot: snapshot}}
	w := &worker{d: d}
	defer w.close()
	src, tgt, err := w.conns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	show := func(name string, get func() (string, error)) string {
		v, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	for _, s := range []struct {
		name string
		get  func() (string, error)
		want string
	}{
		{"worker's source", func() (v string, err error) { return v, src.QueryRow(ctx, "SHOW jit").Scan(&v) }, "off"},
		{"worker's target", func() (v string, err error) { return v, tgt.QueryRow(ctx, "SHOW jit").Scan(&v) }, "off"},
		{"verification's source", func() (v string, err error) {
			c, err := openSnapshotConn(ctx, d)
			if err != nil {
				return "", err
			}
			defer c.Close(ctx)
			return v, c.QueryRow(ctx, "SHOW jit").Scan(&v)
		}, "on"},
		{"verification's target", func() (v string, err error) {
			c, err := openTargetConn(ctx, d)
			if err != nil {
				return "", err
			}
			defer c.Close(ctx)
			return v, c.QueryRow(ctx, "SHOW jit").Scan(&v)
		}, "on"},
	} {
		if got := show(s.name, s.get); got != s.want {
			t.Errorf("%s: jit %s, want %s", s.name, got, s.want)
		}
	}
	// The worker's source session is still inside the snapshot.
	var same bool
	if err := src.QueryRow(ctx, "SELECT pg_catalog.current_setting('transaction_isolation') = 'repeatable read'").Scan(&same); err != nil || !same {
		t.Errorf("worker's source: repeatable read %v, %v", same, err)
	}
	// A materialized view's refresh: JIT as the server says, then off again.
	if _, err := tgt.Exec(ctx, "SET search_path TO DEFAULT"+w.jitReset("TO DEFAULT")); err != nil {
		t.Fatal(err)
	}
	var during string
	if err := tgt.QueryRow(ctx, "SHOW jit").Scan(&during); err != nil || during != "on" {
		t.Errorf("refreshing a materialized view: jit %q, %v; want on", during, err)
	}
	if _, err := tgt.Exec(ctx, "SELECT pg_catalog.set_config('search_path', '', false)"+w.jitReset("= off")); err != nil {
		t.Fatal(err)
	}
	if err := tgt.QueryRow(ctx, "SHOW jit").Scan(&during); err != nil || during != "off" {
		t.Errorf("after a materialized view: jit %q, %v; want off", during, err)
	}
	// A server without JIT (before 11) is sent no setting.
	if s := noJIT(100000); s != "" {
		t.Errorf("noJIT(10) = %q", s)
	}
}
