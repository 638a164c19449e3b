package apply

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// flushFixture is a run of finished actions (still "running" in the state, as the workers leave
// them) and a flusher whose durability barrier is durable (no server: it counts its calls and
// fails with fail when set).
type flushFixture struct {
	be      state.Backend
	f       *flusher
	actions []*plan.Action
	barrier atomic.Int32
	fail    atomic.Value // error
}

func newFlushFixture(t *testing.T, n int) *flushFixture {
	t.Helper()
	ctx := context.Background()
	be, err := state.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	x := &flushFixture{be: be}
	r := &Runner{opt: Options{Backend: be, State: state.New("m")}}
	for i := range n {
		a := &plan.Action{Address: fmt.Sprintf(`database.app.table["public"."t%d"]`, i), Type: plan.TypeTable, Kind: plan.Create, Database: "app"}
		x.actions = append(x.actions, a)
		r.markFinish(ctx, a, r.markBegin(a, 0), 1, 1, 0, nil, true)
	}
	x.f = (&dbRun{r: r, db: "app"}).newFlusher(ctx, x.actions)
	x.f.durable = func(context.Context) error {
		x.barrier.Add(1)
		if err, _ := x.fail.Load().(error); err != nil {
			return err
		}
		return nil
	}
	go x.f.loop()
	return x
}

// confirm queues tasks and returns how long their confirmation took and its error.
func (x *flushFixture) confirm(t *testing.T, hurry bool, tasks ...int) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	x.f.Confirm(tasks, func(err error) { done <- err })
	if hurry {
		x.f.Hurry()
	}
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(10 * time.Second):
		t.Fatal("never confirmed")
		return 0, nil
	}
}

// status is an action's status in the saved state.
func (x *flushFixture) status(t *testing.T, i int) state.ActionStatus {
	t.Helper()
	s, err := x.be.Read(context.Background(), "m")
	if err != nil || s == nil {
		t.Fatalf("reading the state: %v", err)
	}
	return s.Action(x.actions[i].Address).Status
}

// TestFlusher: a finished action is recorded applied in a state write after the target's commits
// were confirmed durable, and only then confirmed to the scheduler; writes come at most once per
// flushEvery unless a worker is idle (Hurry).
func TestFlusher(t *testing.T) {
	x := newFlushFixture(t, 3)
	if _, err := x.confirm(t, false, 0); err != nil {
		t.Fatal(err)
	}
	if got := x.status(t, 0); got != state.ActionApplied {
		t.Errorf("confirmed action saved %s, want applied", got)
	}
	if got := x.status(t, 1); got != state.ActionRunning {
		t.Errorf("unconfirmed action saved %s, want running", got)
	}
	// The next write waits for flushEvery…
	if d, err := x.confirm(t, false, 1); err != nil || d < flushEvery*4/5 {
		t.Errorf("second confirmation after %v (%v), want about flushEvery (%v)", d, err, flushEvery)
	}
	// …unless a worker is idle for want of it.
	if d, err := x.confirm(t, true, 2); err != nil || d >= flushEvery*4/5 {
		t.Errorf("hurried confirmation after %v (%v), want at once", d, err)
	}
	if n := x.barrier.Load(); n != 3 {
		t.Errorf("%d durability barriers for 3 writes that confirmed actions", n)
	}
	if err := x.f.close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got := x.status(t, i); got != state.ActionApplied {
			t.Errorf("action %d saved %s, want applied", i, got)
		}
	}
}

// TestFlusherFails: when the target cannot confirm its commits durable, the scheduler hears the
// error, and close records the unconfirmed actions tainted (the next apply does them again).
func TestFlusherFails(t *testing.T) {
	x := newFlushFixture(t, 2)
	lost := errors.New("the target is gone")
	x.fail.Store(lost)
	if _, err := x.confirm(t, true, 0, 1); !errors.Is(err, lost) {
		t.Fatalf("confirmation error %v, want %v", err, lost)
	}
	if err := x.f.close(context.Background(), nil); !errors.Is(err, lost) {
		t.Fatalf("close = %v, want %v", err, lost)
	}
	for i := range 2 {
		if got := x.status(t, i); got != state.ActionTainted {
			t.Errorf("action %d saved %s, want tainted", i, got)
		}
	}
}
