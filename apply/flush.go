package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pgxconn "github.com/jackc/pgx/v5/pgconn"

	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// flushEvery is the longest a finished action waits for the state write that releases its dependents.
// A worker that has nothing else to do does not wait for it (flusher.Hurry).
const flushEvery = 250 * time.Millisecond

// flusher confirms finished actions for the scheduler (sched.Confirmer): it writes the state
// whenever asked to, at most once per flushEvery, or at once when a worker is idle for want of a
// dependency whose completion is not written yet. Each write first makes the target durable past
// the finished actions' commits (saveConfirmed); only then are they recorded applied and their
// dependents released.
type flusher struct {
	d   *dbRun
	ctx context.Context
	// durable is d.confirmDurable: it returns once the target's commits so far are durable.
	durable func(context.Context) error
	actions []*plan.Action
	mu      sync.Mutex
	waiting []confirmWait // queued, by generation
	req     chan struct{}
	urgent  chan struct{}
	stop    chan struct{}
	exited  chan struct{}
}

// confirmWait is a batch of actions queued for confirmation at generation gen.
type confirmWait struct {
	gen  int64
	done func(error)
}

var _ sched.Confirmer = (*flusher)(nil)

// startFlusher starts the flusher of a run of actions (the scheduler's tasks).
func (d *dbRun) startFlusher(ctx context.Context, actions []*plan.Action) *flusher {
	f := d.newFlusher(ctx, actions)
	go f.loop()
	return f
}

func (d *dbRun) newFlusher(ctx context.Context, actions []*plan.Action) *flusher {
	return &flusher{d: d, ctx: ctx, durable: d.confirmDurable, actions: actions, req: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
		stop: make(chan struct{}), exited: make(chan struct{})}
}

// Confirm queues finished actions (still "running" in the state) for the next write, which
// records them applied.
func (f *flusher) Confirm(tasks []int, done func(error)) {
	addrs := make([]string, len(tasks))
	for k, i := range tasks {
		addrs[k] = f.actions[i].Address
	}
	gen := f.d.r.queueConfirm(addrs...)
	f.mu.Lock()
	f.waiting = append(f.waiting, confirmWait{gen, done})
	f.mu.Unlock()
	f.request()
}

// Hurry ends the wait between two writes: a worker is idle.
func (f *flusher) Hurry() {
	select {
	case f.urgent <- struct{}{}:
	default:
	}
}

func (f *flusher) request() {
	select {
	case f.req <- struct{}{}:
	default:
	}
}

func (f *flusher) loop() {
	defer close(f.exited)
	for {
		select {
		case <-f.stop:
			return
		case <-f.req:
		}
		gen, err := f.saveConfirmed(f.ctx)
		f.deliver(gen, err)
		t := time.NewTimer(flushEvery)
		select {
		case <-f.stop:
			t.Stop()
			return
		case <-t.C:
		case <-f.urgent:
			t.Stop()
		}
	}
}

// deliver tells the scheduler which queued batches the write up to generation gen confirmed, or
// that it failed (done is called outside the lock, as any callback).
func (f *flusher) deliver(gen int64, err error) {
	f.mu.Lock()
	k := 0
	for k < len(f.waiting) && (err != nil || f.waiting[k].gen <= gen) {
		k++
	}
	confirmed := f.waiting[:k:k]
	f.waiting = f.waiting[k:]
	more := err == nil && len(f.waiting) > 0
	f.mu.Unlock()
	for _, w := range confirmed {
		w.done(err)
	}
	if more {
		f.request()
	}
}

// close stops the flusher once the scheduler is done, and confirms and writes whatever finished
// meanwhile. What cannot be confirmed durable (the target is gone) is recorded tainted: the next
// apply does it again. It returns runErr (the scheduler's), else its own error.
func (f *flusher) close(ctx context.Context, runErr error) error {
	close(f.stop)
	<-f.exited
	r := f.d.r
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	_, err := f.saveConfirmed(fctx)
	fcancel()
	if err != nil {
		r.mu.Lock()
		for _, sa := range r.unconfirmed {
			sa.Status, sa.Error = state.ActionTainted, "finished, but the target could not confirm its commit durable: "+err.Error()
		}
		r.unconfirmed = nil
		r.gen++
		r.mu.Unlock()
		if serr := r.save(context.WithoutCancel(ctx)); serr != nil && runErr == nil {
			runErr = serr
		}
		if runErr == nil {
			runErr = err
		}
	}
	return runErr
}

// saveConfirmed makes the target durable past every commit of the unconfirmed actions, records
// them applied, and writes the state. It returns the generation up to which finished actions are
// recorded applied (those that finish meanwhile wait for the next call).
func (f *flusher) saveConfirmed(ctx context.Context) (int64, error) {
	r := f.d.r
	r.mu.Lock()
	cut, list := r.gen, r.unconfirmed
	r.unconfirmed = nil
	r.mu.Unlock()
	if len(list) > 0 {
		if err := f.durable(ctx); err != nil {
			r.mu.Lock()
			r.unconfirmed = append(list, r.unconfirmed...)
			r.mu.Unlock()
			return 0, err
		}
		r.mu.Lock()
		for _, sa := range list {
			sa.Status = state.ActionApplied
		}
		r.gen++
		r.mu.Unlock()
	}
	// The state is written even when ctx ended meanwhile: it must say what was confirmed.
	if _, err := r.saveGen(context.WithoutCancel(ctx)); err != nil {
		return 0, err
	}
	return cut, nil
}

// confirmDurable returns once every transaction the target committed so far is durable. The
// workers commit with synchronous_commit off (a commit returns before its WAL is flushed); a
// commit with synchronous_commit on of a transaction that wrote WAL flushes the WAL up to its own
// record, which follows theirs (tryBarrier).
// One flush per state write, instead of one per action.
//
// A lost connection is retried with the workers' backoff. A target that restarted meanwhile (its
// postmaster start time changed since the run began) may have lost asynchronous commits, and
// a flush now proves nothing about them: errTargetRestarted, and they are done again.
func (d *dbRun) confirmDurable(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := d.tryBarrier(ctx)
		if err == nil || errors.Is(err, errTargetRestarted) {
			return err
		}
		if !retryable(err) || attempt >= len(backoff) || ctx.Err() != nil {
			return fmt.Errorf("confirming the target's commits durable: %w", err)
		}
		if serr := sleep(ctx, backoff[attempt]); serr != nil {
			return serr
		}
	}
}

// errTargetRestarted: the target restarted during the run, so commits not yet confirmed durable
// may be lost; the database's unfinished actions are done again with a new snapshot.
var errTargetRestarted = errors.New("the target restarted before its last commits were confirmed durable: the unconfirmed actions are done again")

// openBarrier connects the barrier and notes when the target's server started, before any worker
// commits anything.
func (d *dbRun) openBarrier(ctx context.Context) error {
	c, err := pgconn.Connect(ctx, d.r.m.Target, d.db)
	if err != nil {
		return err
	}
	if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_postmaster_start_time()").Scan(&d.targetStart); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return err
	}
	d.barrier = c
	return nil
}

func (d *dbRun) tryBarrier(ctx context.Context) error {
	if d.barrier == nil {
		c, err := pgconn.Connect(ctx, d.r.m.Target, d.db)
		if err != nil {
			return err
		}
		d.barrier = c
	}
	var started time.Time
	var err error
	if !d.barrierByLSN {
		// A commit waits for the WAL flush only when its transaction wrote WAL before its commit
		// record (assigning a transaction ID is not enough): a transactional logical message, which
		// changes nothing in the database, makes this one flush everything written before it.
		_, err = d.barrier.Exec(ctx, "BEGIN; SET LOCAL synchronous_commit = on")
		if err == nil {
			err = d.barrier.QueryRow(ctx, "SELECT pg_catalog.pg_postmaster_start_time(), pg_catalog.pg_logical_emit_message(true, 'pgferry', 'barrier')::text").Scan(&started, nil)
		}
		if err == nil {
			_, err = d.barrier.Exec(ctx, "COMMIT")
		}
		var pe *pgxconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "42883") {
			// Not allowed here (or older than 9.6): wait for the WAL writer instead.
			d.barrierByLSN = true
			_, err = d.barrier.Exec(ctx, "ROLLBACK")
		}
	}
	if err == nil && d.barrierByLSN {
		started, err = d.waitWALFlushed(ctx)
	}
	if err != nil {
		d.barrier.Close(context.WithoutCancel(ctx))
		d.barrier = nil
		return err
	}
	if !started.Equal(d.targetStart) {
		return errTargetRestarted
	}
	return nil
}

// waitWALFlushed waits until the target's WAL is flushed past everything inserted so far (the WAL
// writer flushes asynchronous commits within a few wal_writer_delay) and returns the server's start
// time, read first.
func (d *dbRun) waitWALFlushed(ctx context.Context) (time.Time, error) {
	insert, flush := "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn"
	if pgconn.ServerVersion(d.barrier).Before(10) {
		insert, flush = "pg_current_xlog_insert_location", "pg_current_xlog_flush_location"
	}
	var started time.Time
	var lsn string
	if err := d.barrier.QueryRow(ctx, fmt.Sprintf("SELECT pg_catalog.pg_postmaster_start_time(), pg_catalog.%s()::text", insert)).Scan(&started, &lsn); err != nil {
		return started, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var done bool
		if err := d.barrier.QueryRow(ctx, fmt.Sprintf("SELECT pg_catalog.%s() >= $1::text::pg_lsn", flush), lsn).Scan(&done); err != nil {
			return started, err
		}
		if done {
			return started, nil
		}
		if time.Now().After(deadline) {
			return started, fmt.Errorf("the target's WAL was not flushed past %s within a minute", lsn)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return started, err
		}
	}
}
