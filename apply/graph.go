package apply

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// runGraph runs actions in dependency order on Jobs workers. Among ready actions, indexes,
// constraints and the closing steps go first, then copies, each in the plan's order (largest
// tables first). An action counts as done for its dependents only
// once a state write holding its completion succeeded; the writes are grouped (one every
// flushEvery at most) so that thousands of small actions do not mean thousands of state writes.
func (d *dbRun) runGraph(ctx context.Context, actions []*plan.Action) error {
	r := d.r
	index := map[string]int{}
	for i, a := range actions {
		index[a.Address] = i
	}
	waiting := make([]int, len(actions))      // unfinished dependencies in this run
	dependents := make([][]int, len(actions)) // reverse edges
	for i, a := range actions {
		for _, dep := range a.DependsOn {
			if j, ok := index[dep]; ok {
				waiting[i]++
				dependents[j] = append(dependents[j], i)
			}
		}
	}
	// Among ready actions, those that finish a loaded table (its indexes and constraints) and the
	// closing steps go before more copies, in plan order within each group: an index build waits
	// for its file to be synced, and a copy beside it (three busy processes) uses that time.
	byRank := make([]int, len(actions))
	for i := range byRank {
		byRank[i] = i
	}
	sort.SliceStable(byRank, func(x, y int) bool { return !isCopy(actions[byRank[x]]) && isCopy(actions[byRank[y]]) })
	rank := make([]int, len(actions))
	for r, i := range byRank {
		rank[i] = r
	}
	ready := &intHeap{}
	for i := range actions {
		if waiting[i] == 0 {
			heap.Push(ready, rank[i])
		}
	}
	type result struct {
		i   int
		gen int64
		err error
	}
	if err := d.openBarrier(ctx); err != nil {
		return err
	}
	results := make(chan result)
	work := make(chan int)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.lane = d.startAnalyzeLane(wctx, actions)
	defer d.lane.stop()
	// Copies that may start while pre-data is streamed (schema.go), in the order of the chunks
	// they wait for; started[i] marks those started so. One that finishes before the schema action
	// waits in held, and is queued for confirmation with it: it is recorded applied, and its
	// dependents run, only in the same state write as pre-data, never before.
	schemaIdx, earlyList := d.earlyCopies(actions, index)
	started := make([]bool, len(actions))
	var held []int
	d.schemaProgress = make(chan struct{}, 1)
	progress := d.schemaProgress
	if len(earlyList) == 0 {
		progress = nil
	}
	var wg sync.WaitGroup
	for j := 0; j < r.opt.Jobs; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{d: d}
			defer w.close()
			for i := range work {
				results <- result{i: i, err: w.run(wctx, actions[i])}
			}
		}()
	}
	// The flusher writes the state whenever it is asked to, at most once per flushEvery, or at once
	// when a worker is idle for want of a dependency whose completion is not written yet.
	flushReq := make(chan struct{}, 1)
	urgent := make(chan struct{}, 1)
	flushed := make(chan result, 1)
	flushStop := make(chan struct{})
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		for {
			select {
			case <-flushStop:
				return
			case <-flushReq:
			}
			gen, err := d.saveConfirmed(ctx)
			select {
			case flushed <- result{gen: gen, err: err}:
			case <-flushStop:
				return
			}
			t := time.NewTimer(flushEvery)
			select {
			case <-flushStop:
				t.Stop()
				return
			case <-t.C:
			case <-urgent:
				t.Stop()
			}
		}
	}()
	requestFlush := func() {
		select {
		case flushReq <- struct{}{}:
		default:
		}
	}
	type unflushed struct {
		i   int
		gen int64
	}
	var pendingFlush []unflushed
	running, remaining := 0, len(actions)
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for remaining > 0 {
		if firstErr != nil && running == 0 {
			break
		}
		var next = -1
		if firstErr == nil && running < r.opt.Jobs && ready.Len() > 0 {
			next = byRank[(*ready)[0]]
		}
		var workCh chan int
		if next >= 0 {
			workCh = work
		} else if firstErr == nil && running < r.opt.Jobs && len(pendingFlush) > 0 {
			select {
			case urgent <- struct{}{}:
			default:
			}
		}
		if next < 0 && running == 0 && len(pendingFlush) == 0 {
			fail(fmt.Errorf("internal error: %d action(s) can never run (dependency cycle)", remaining))
			break
		}
		select {
		case <-progress:
			done := int(d.schemaChunks.Load())
			for len(earlyList) > 0 && earlyList[0].chunk < done {
				i := earlyList[0].action
				earlyList = earlyList[1:]
				if waiting[i] == 1 && !started[i] {
					started[i] = true
					heap.Push(ready, rank[i])
				}
			}
			if len(earlyList) == 0 {
				progress = nil
			}
		case workCh <- next:
			heap.Pop(ready)
			running++
		case res := <-results:
			running--
			if res.err != nil {
				fail(&actionError{actions[res.i].Address, res.err})
				remaining--
				continue
			}
			d.lane.finished(actions[res.i])
			switch {
			case started[res.i] && schemaIdx >= 0:
				held = append(held, res.i)
				continue
			case res.i == schemaIdx:
				addrs := []string{actions[res.i].Address}
				for _, i := range held {
					addrs = append(addrs, actions[i].Address)
				}
				gen := r.queueConfirm(addrs...)
				for _, i := range append(held, res.i) {
					pendingFlush = append(pendingFlush, unflushed{i, gen})
				}
				held, schemaIdx = nil, -1
			default:
				pendingFlush = append(pendingFlush, unflushed{res.i, r.queueConfirm(actions[res.i].Address)})
			}
			requestFlush()
		case f := <-flushed:
			if f.err != nil {
				fail(f.err)
				continue
			}
			kept := pendingFlush[:0]
			for _, u := range pendingFlush {
				if u.gen > f.gen {
					kept = append(kept, u)
					continue
				}
				remaining--
				for _, k := range dependents[u.i] {
					if waiting[k]--; waiting[k] == 0 && !started[k] {
						heap.Push(ready, rank[k])
					}
				}
			}
			pendingFlush = kept
			if len(pendingFlush) > 0 {
				requestFlush()
			}
		}
	}
	close(work)
	wg.Wait()
	close(flushStop)
	<-flushDone
	// Whatever finished meanwhile is confirmed and written now. What cannot be confirmed durable
	// (the target is gone) is recorded tainted: the next apply does it again.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	_, err := d.saveConfirmed(fctx)
	fcancel()
	if err != nil {
		r.mu.Lock()
		for _, sa := range r.unconfirmed {
			sa.Status, sa.Error = state.ActionTainted, "finished, but the target could not confirm its commit durable: "+err.Error()
		}
		r.unconfirmed = nil
		r.gen++
		r.mu.Unlock()
		if serr := r.save(context.WithoutCancel(ctx)); serr != nil && firstErr == nil {
			firstErr = serr
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// flushEvery is the longest a finished action waits for the state write that releases its dependents.
// A worker that has nothing else to do does not wait for it (see runGraph).
const flushEvery = 250 * time.Millisecond

// isCopy reports whether an action moves data.
func isCopy(a *plan.Action) bool {
	switch a.Type {
	case plan.TypeTable, plan.TypeTablePart, plan.TypeLargeObj, plan.TypeExtData:
		return true
	}
	return false
}

// intHeap is a min-heap of ranks.
type intHeap []int

func (h intHeap) Len() int { return len(h) }

func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }

func (h intHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *intHeap) Push(x any) { *h = append(*h, x.(int)) }

func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
