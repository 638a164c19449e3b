package state

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// testCanceler runs the behaviour every Canceler must have.
func testCanceler(t *testing.T, b interface {
	Backend
	Canceler
}) {
	ctx := context.Background()
	if r, err := b.CancelRequest(ctx, "m"); r != nil || err != nil {
		t.Fatalf("CancelRequest before any request = %v, %v; want nil, nil", r, err)
	}
	if err := b.ClearCancel(ctx, "m"); err != nil {
		t.Fatalf("ClearCancel without a request: %v", err)
	}

	// A request does not touch the state document: a running apply rewrites it from its own copy.
	s := New("m")
	s.Status = StatusInProgress
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	serial := s.Serial
	if err := b.RequestCancel(ctx, "m", CancelRequest{LockID: "lock-1"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Read(ctx, "m")
	if err != nil || got.Serial != serial {
		t.Fatalf("state after RequestCancel: serial %d (want %d), %v", got.Serial, serial, err)
	}
	r, err := b.CancelRequest(ctx, "m")
	if err != nil || r == nil {
		t.Fatalf("CancelRequest = %v, %v", r, err)
	}
	if r.LockID != "lock-1" || r.Who == "" || time.Since(r.RequestedAt) > time.Minute {
		t.Fatalf("request %+v: want lock-1, a Who and a recent time", r)
	}
	if !r.Targets("lock-1") || r.Targets("lock-2") {
		t.Fatalf("request for lock-1 targets lock-1 %v, lock-2 %v", r.Targets("lock-1"), r.Targets("lock-2"))
	}
	if other, err := b.CancelRequest(ctx, "other"); other != nil || err != nil {
		t.Fatalf("another migration sees %v, %v", other, err)
	}

	// A second request replaces the first; an empty LockID targets any holder.
	if err := b.RequestCancel(ctx, "m", CancelRequest{}); err != nil {
		t.Fatal(err)
	}
	if r, err = b.CancelRequest(ctx, "m"); err != nil || r == nil || r.LockID != "" || !r.Targets("anything") {
		t.Fatalf("replaced request = %+v, %v", r, err)
	}
	if err := b.ClearCancel(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if r, err := b.CancelRequest(ctx, "m"); r != nil || err != nil {
		t.Fatalf("CancelRequest after ClearCancel = %v, %v", r, err)
	}
	var nilReq *CancelRequest
	if nilReq.Targets("x") {
		t.Fatal("a nil request targets nothing")
	}
	if err := b.RequestCancel(ctx, "../evil", CancelRequest{}); err == nil {
		t.Fatal("RequestCancel accepted an invalid migration name")
	}
}

func TestLocalCancel(t *testing.T) {
	l := newLocal(t)
	testCanceler(t, l)

	// The request file is private and is no state: List ignores it.
	if err := l.RequestCancel(context.Background(), "m", CancelRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := mode(t, filepath.Join(l.Dir, "m", cancelFileName)); got != 0o600 {
		t.Fatalf("cancel file mode %v, want 0600", got)
	}
	states, err := l.List(context.Background())
	if err != nil || len(states) != 1 {
		t.Fatalf("List = %d states, %v", len(states), err)
	}
}

func TestPGCancel(t *testing.T) {
	dsn := startPG(t)
	ctx := context.Background()
	p, err := NewPG(ctx, dsn, "cancels")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	testCanceler(t, p)

	// Another host (another backend object) sees the request and can clear it.
	if err := p.RequestCancel(ctx, "m", CancelRequest{LockID: "x"}); err != nil {
		t.Fatal(err)
	}
	q, err := NewPG(ctx, dsn, "cancels")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if r, err := q.CancelRequest(ctx, "m"); err != nil || r == nil || r.LockID != "x" {
		t.Fatalf("other backend sees %+v, %v", r, err)
	}
	if err := q.ClearCancel(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if r, err := p.CancelRequest(ctx, "m"); r != nil || err != nil {
		t.Fatalf("after clear = %v, %v", r, err)
	}

	// A schema whose cancels table was never created polls as "no request".
	fresh, err := NewPG(ctx, dsn, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if r, err := fresh.CancelRequest(ctx, "m"); r != nil || err != nil {
		t.Fatalf("CancelRequest without the table = %v, %v", r, err)
	}
	if err := fresh.ClearCancel(ctx, "m"); err != nil {
		t.Fatalf("ClearCancel without the table: %v", err)
	}
}
