package views

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// syncBuffer is a bytes.Buffer safe for the batch writer's timer; seen, when set, is called at
// each write.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	seen func()
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen != nil {
		s.seen()
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBatchWriter: lines are held until a flush, the period, a large batch or close; after close
// they go straight through.
func TestBatchWriter(t *testing.T) {
	var out syncBuffer
	b := newBatchWriter(&out, time.Hour)
	b.Write([]byte("a\n"))
	b.Write([]byte("b\n"))
	if got := out.String(); got != "" {
		t.Fatalf("written before a flush: %q", got)
	}
	b.flush()
	if got := out.String(); got != "a\nb\n" {
		t.Fatalf("after flush: %q", got)
	}
	big := strings.Repeat("x", 70<<10) + "\n"
	b.Write([]byte(big))
	if got := out.String(); got != "a\nb\n"+big {
		t.Fatal("a batch of 64 KiB was held")
	}
	b.Write([]byte("c\n"))
	b.close()
	b.Write([]byte("d\n"))
	if got := out.String(); !strings.HasSuffix(got, big+"c\nd\n") {
		t.Fatalf("after close: %q", got[len(got)-10:])
	}

	var ticked syncBuffer
	b = newBatchWriter(&ticked, time.Millisecond)
	defer b.close()
	b.Write([]byte("e\n"))
	deadline := time.Now().Add(5 * time.Second)
	for ticked.String() == "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if ticked.String() != "e\n" {
		t.Fatal("the period did not write the held line")
	}
}

// heldView is an apply view whose lines a batchWriter holds.
type heldView struct {
	Apply
	b *batchWriter
}

func (h heldView) batched() *batchWriter { return h.b }

// TestOutputFirst: a state write first writes the lines the view holds: when the state says an
// action is done, the output has said so too.
func TestOutputFirst(t *testing.T) {
	ctx := context.Background()
	l, err := state.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(l.Dir, "m", "state.json")
	out := &syncBuffer{}
	out.seen = func() {
		if _, err := os.Stat(path); err == nil {
			t.Error("the output was written after the state")
		}
	}
	b := newBatchWriter(out, time.Hour)
	defer b.close()
	backend := OutputFirst(l, heldView{b: b})
	b.Write([]byte("database.app: Creation complete after 1s\n"))
	if err := backend.Write(ctx, state.New("m")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "database.app: Creation complete after 1s\n" {
		t.Fatalf("output at the state write: %q", got)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	// A view that holds nothing (a terminal's) writes the state all the same.
	s := state.New("n")
	if err := OutputFirst(l, NewApply(HumanView, &View{Stdout: out}, true)).Write(ctx, s); err != nil || s.Serial != 1 {
		t.Fatalf("write through a terminal's view: serial %d, %v", s.Serial, err)
	}
}

// TestApplyBatchedLines: apply's human view on a file or a pipe holds the action lines, writes a
// phase line (and what came before it) at once, and everything by the end of Finish; --json too.
func TestApplyBatchedLines(t *testing.T) {
	a := tableAction("app", "orders")
	p := &plan.Plan{Actions: []*plan.Action{a}}
	for _, typ := range []ViewType{HumanView, JSONView} {
		out := &syncBuffer{}
		v := NewApply(typ, &View{Stdout: out, Stderr: out}, false)
		emit := v.Start(p, "none")
		emit(apply.Event{Type: apply.EventStart, Address: a.Address, Action: a})
		emit(apply.Event{Type: apply.EventPhase, Message: "phase one"})
		if got := out.String(); !strings.Contains(got, "orders") || !strings.Contains(got, "phase one") {
			t.Fatalf("%v: after a phase line: %q", typ, got)
		}
		emit(apply.Event{Type: apply.EventComplete, Address: a.Address, Action: a, Elapsed: time.Second})
		v.Stop()
		v.Finish(p, time.Second, nil, false, func(s string) string { return s })
		got := out.String()
		if !strings.Contains(got, "Creation complete after 1s") || !strings.Contains(got, "Apply complete!") {
			t.Fatalf("%v: at the end: %q", typ, got)
		}
	}
}
