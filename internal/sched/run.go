package sched

import (
	"context"
	"sync"
	"sync/atomic"
)

// Options configure Run.
type Options struct {
	// Jobs is how many tasks run at once (lanes 0..Jobs-1); below 1 means 1.
	Jobs int
	// Extra lanes (Jobs..Jobs+Extra-1) run Small tasks only, beside the Jobs: latency-bound work
	// on a slow link.
	Extra int
	// Work runs task i on lane lane (a lane runs one task at a time, so it may keep connections
	// between tasks). It is called from the lane's goroutine with a context that is cancelled once
	// any task failed.
	Work func(ctx context.Context, lane, i int) error
	// WorkGroup, when not nil, runs tasks of one Group that were ready together (more than one) on
	// lane lane, and returns each one's error, in their order; without it every task runs alone
	// (Work).
	WorkGroup func(ctx context.Context, lane int, tasks []int) []error
	// Confirm makes finished tasks durable before their dependents start; nil confirms at once.
	Confirm Confirmer
	// Progress is where the gate task's work tells how far it got (nil: no early starts happen).
	Progress *Progress
}

// Confirmer makes finished tasks' completion durable (apply: a state write after the target
// flushed its WAL). Only confirmed tasks release their dependents.
type Confirmer interface {
	// Confirm queues tasks that finished and must be confirmed together. It must not block long.
	// The confirmer calls done exactly once, from any goroutine (Confirm's own included; done
	// never blocks), when they are confirmed, or with the error that prevents it. Batches are
	// confirmed in the order they were queued.
	Confirm(tasks []int, done func(error))
	// Hurry says a lane is idle waiting for a confirmation: confirm what is queued without
	// waiting to batch more. It must not block.
	Hurry()
}

// Progress is how far the gate task got (pre-data: chunks run so far), for early starts. Its
// methods may be called from any goroutine.
type Progress struct {
	n    atomic.Int64
	tick chan struct{}
}

// NewProgress returns a Progress at 0.
func NewProgress() *Progress { return &Progress{tick: make(chan struct{}, 1)} }

// Set records that the gate reached n; it never blocks.
func (p *Progress) Set(n int) {
	if p == nil {
		return
	}
	p.n.Store(int64(n))
	select {
	case p.tick <- struct{}{}:
	default:
	}
}

// Run runs the tasks in dependency order, Jobs at a time, and returns the first task's error
// (the others are cancelled and waited for), a *CycleError when tasks can never run, or nil once
// every task finished and was confirmed. Among ready tasks the lowest Rank goes first, then the
// lowest index.
func Run(ctx context.Context, tasks []Task, opt Options) error {
	c, err := newCore(tasks, opt.Jobs, opt.Extra)
	if err != nil {
		return err
	}
	if len(tasks) == 0 {
		return nil
	}
	c.grouping = opt.WorkGroup != nil
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	type confirmation struct {
		tasks []int
		err   error
	}
	work := make(chan []int)
	results := make(chan result)
	// Confirmations arrive in order through arrived; done never blocks (a confirmer may call it
	// from Confirm itself, or after Run returned).
	var mu sync.Mutex
	var arrived []confirmation
	signal := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for lane := 0; lane < c.jobs+c.extra; lane++ {
		wg.Go(func() {
			for group := range work {
				if len(group) == 1 {
					results <- result{group[0], opt.Work(wctx, lane, group[0])}
					continue
				}
				errs := opt.WorkGroup(wctx, lane, group)
				for k, i := range group {
					results <- result{i, errs[k]}
				}
			}
		})
	}
	var tick chan struct{}
	if len(c.early) > 0 && opt.Progress != nil {
		tick = opt.Progress.tick
	}
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			c.fail()
			cancel()
		}
	}
	queue := func(batch []int) {
		if opt.Confirm == nil {
			c.confirm(batch)
			return
		}
		opt.Confirm.Confirm(batch, func(err error) {
			mu.Lock()
			arrived = append(arrived, confirmation{batch, err})
			mu.Unlock()
			select {
			case signal <- struct{}{}:
			default:
			}
		})
	}
	for !c.done() {
		next := c.next()
		var workCh chan []int
		var group []int
		if next >= 0 {
			workCh, group = work, c.members(next)
		} else if c.hurry() {
			opt.Confirm.Hurry()
		}
		if err := c.stuck(); err != nil {
			fail(err)
			break
		}
		select {
		case <-tick:
			if _, more := c.progress(int(opt.Progress.n.Load())); !more {
				tick = nil
			}
		case workCh <- group:
			c.start(next)
		case res := <-results:
			if res.err != nil {
				fail(res.err)
				c.finish(res.i, true)
				continue
			}
			if batch, _ := c.finish(res.i, false); len(batch) > 0 {
				queue(batch)
			}
		case <-signal:
			mu.Lock()
			list := arrived
			arrived = nil
			mu.Unlock()
			for _, cf := range list {
				if cf.err != nil {
					fail(cf.err)
					break
				}
				c.confirm(cf.tasks)
			}
		}
	}
	close(work)
	wg.Wait()
	return firstErr
}
