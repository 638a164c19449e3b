package forecast

import (
	"context"
	"errors"
	"runtime/trace"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
)

// Sessions are the probe's source and target sessions, opened in the background: by measure
// itself, or ahead of it (Predial) while the probe waits for the schema dump to end, so that the
// two authentications (SCRAM's key derivation on both sides of each: 20-40 ms on a quiet machine,
// 0.1-0.3 s on a busy one) are not on the path from the dump's end to the run's start.
type Sessions struct {
	srcDB            string
	done             chan struct{}
	src, tgt         *pgx.Conn
	connSrc, connTgt time.Duration
	srcErr, tgtErr   error
	mu               sync.Mutex
	taken            bool // by a probe or by Close: nobody else closes them
	used             bool // a probe measures on them
}

// dial opens the probe's two sessions at once in the background.
func (pb *prober) dial(ctx context.Context) *Sessions {
	ss := &Sessions{srcDB: pb.srcDB, done: make(chan struct{})}
	go func() {
		defer close(ss.done)
		defer trace.StartRegion(ctx, "probe dial").End()
		var wg sync.WaitGroup
		wg.Go(func() {
			start := time.Now()
			ss.tgt, ss.tgtErr = pb.openTarget(ctx)
			ss.connTgt = time.Since(start)
		})
		wg.Go(func() {
			start := time.Now()
			ss.src, ss.srcErr = pb.openSource(ctx)
			ss.connSrc = time.Since(start)
		})
		wg.Wait()
	}()
	return ss
}

// take waits for the sessions and hands them to pb (which closes them), with the time the slower
// one took to open as the connection's cost (Rates.Connect). It fails when either could not be
// opened; the other is closed then.
func (ss *Sessions) take(pb *prober) error {
	<-ss.done
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.taken = true
	if err := errors.Join(ss.srcErr, ss.tgtErr); err != nil {
		ss.closeLocked()
		return err
	}
	pb.src, pb.tgt, ss.used = ss.src, ss.tgt, true
	pb.r.Connect = max(ss.connSrc, ss.connTgt)
	return nil
}

// Close closes the sessions unless a probe took them, once they are open. A nil Sessions does
// nothing.
func (ss *Sessions) Close() {
	if ss == nil {
		return
	}
	<-ss.done
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.taken {
		ss.taken = true
		ss.closeLocked()
	}
}

func (ss *Sessions) closeLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ss.tgt != nil {
		ss.tgt.Close(ctx)
	}
	if ss.src != nil {
		ss.src.Close(ctx)
	}
}

// Predial starts opening the sessions a probe of plan p (Probe) with jobs workers will measure
// on, for a caller that probes once other work has ended (the schema dump): a Probe whose context
// carries them (WithSessions) takes them instead of opening its own. Only with jobs > 1: the time a
// session took to open prices the run's new sessions, and opened beside other work it would be
// too high; with several jobs the probe opens the concurrent streams' sessions after, and prices
// a session by the fastest pair (contention), as before. nil when there is nothing to open ahead.
// The caller closes it (Close) after the probe.
func Predial(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int) *Sessions {
	if snap == nil || snap.Migration == nil || p == nil {
		return nil
	}
	db := ""
	if sample := largestTable(snap, p); sample != nil {
		db = sample.db
	}
	return PredialDB(ctx, snap.Migration, db, jobs)
}

// PredialDB is Predial before the plan is made: the probe's source session is opened in database
// db, where the caller expects the plan's largest table (a probe that samples another database
// opens its own sessions; the caller closes these).
func PredialDB(ctx context.Context, m *config.Migration, db string, jobs int) *Sessions {
	if jobs <= 1 || m == nil {
		return nil
	}
	pb := &prober{m: m, srcDB: db}
	return pb.dial(ctx)
}

type sessionsKey struct{}

// WithSessions returns ctx carrying ss (nil: ctx), for the Probe called with it.
func WithSessions(ctx context.Context, ss *Sessions) context.Context {
	if ss == nil {
		return ctx
	}
	return context.WithValue(ctx, sessionsKey{}, ss)
}

// predialed is the sessions ctx carries for a probe of database srcDB with jobs workers (nil:
// none, or opened for another database, or jobs is 1).
func predialed(ctx context.Context, srcDB string, jobs int) *Sessions {
	ss, _ := ctx.Value(sessionsKey{}).(*Sessions)
	if ss == nil || ss.srcDB != srcDB || jobs <= 1 {
		return nil
	}
	return ss
}
