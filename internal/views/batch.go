package views

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/every"
	"github.com/pgferry/pgferry/state"
)

// batchEvery is the longest an apply line written to a file or a pipe waits in batchWriter.
const batchEvery = 100 * time.Millisecond

// batchWriter holds the lines an apply writes to a file or a pipe (not a terminal) and writes them
// together: every batchEvery, at every line that matters on its own (flush: a phase, an error),
// before every state write (OutputFirst), and at the end (close). At 20,000 tables apply writes
// 124,000 lines, one write call each when unbuffered.
//
// A kill -9 loses at most the lines of the last batchEvery, and never one whose action a state
// write recorded: the output is written before the state says more than it.
type batchWriter struct {
	mu     sync.Mutex
	w      io.Writer
	buf    bytes.Buffer
	err    error // the first write error, reported by the next Write
	closed bool  // after close, writes go straight through
	stop   func()
}

// newBatchWriter starts a batchWriter writing to w at least every period.
func newBatchWriter(w io.Writer, period time.Duration) *batchWriter {
	b := &batchWriter{w: w}
	b.stop = every.Do(period, b.flush)
	return b
}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	b.buf.Write(p)
	if b.buf.Len() >= 64<<10 {
		b.flushLocked()
	}
	return len(p), nil
}

// flush writes what is held (b may be nil: nothing is).
func (b *batchWriter) flush() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *batchWriter) flushLocked() {
	if b.buf.Len() == 0 {
		return
	}
	if _, err := b.w.Write(b.buf.Bytes()); err != nil && b.err == nil {
		b.err = err
	}
	b.buf.Reset()
}

// close writes what is held and stops batching: later writes go straight to w.
func (b *batchWriter) close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.flushLocked()
	b.closed = true
	b.mu.Unlock()
	b.stop()
}

// batchedEvent passes e to emit, then writes the lines held when e stands on its own: a phase, a
// message, an error, an interruption are seen as they happen.
func batchedEvent(b *batchWriter, emit func(apply.Event)) func(apply.Event) {
	if b == nil {
		return emit
	}
	return func(e apply.Event) {
		emit(e)
		switch e.Type {
		case apply.EventPhase, apply.EventMessage, apply.EventErrored, apply.EventInterrupted:
			b.flush()
		}
	}
}

// OutputFirst returns backend b, whose state writes first write the lines view holds (view's
// batchWriter, when it batches them), so that the output never says less than the state: an
// apply's output is written before the state write that records what it says.
func OutputFirst(b state.Backend, view Apply) state.Backend {
	if f, ok := view.(interface{ batched() *batchWriter }); ok {
		return outputFirst{Backend: b, out: f.batched}
	}
	return b
}

type outputFirst struct {
	state.Backend
	out func() *batchWriter
}

func (o outputFirst) Write(ctx context.Context, s *state.State) error {
	if b := o.out(); b != nil {
		b.flush()
	}
	return o.Backend.Write(ctx, s)
}
