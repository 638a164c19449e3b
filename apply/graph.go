package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
)

// runGraph runs actions in dependency order on Jobs workers (internal/sched). Among ready actions,
// indexes, constraints and the closing steps go first, then copies, each in the plan's order
// (largest tables first). An action counts as done for its dependents only once a state write
// holding its completion succeeded; the writes are grouped (flusher, flush.go) so that thousands
// of small actions do not mean thousands of state writes.
func (d *dbRun) runGraph(ctx context.Context, actions []*plan.Action) error {
	r := d.r
	if err := d.openBarrier(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.lane = d.startAnalyzeLane(wctx, actions)
	defer d.lane.stop()
	d.preData = sched.NewProgress()
	// One worker per lane: it keeps its connections from one action to the next.
	workers := make([]*worker, r.opt.Jobs)
	for j := range workers {
		workers[j] = &worker{d: d, lane: j}
	}
	f := d.startFlusher(ctx, actions)
	err := sched.Run(wctx, d.tasks(actions), sched.Options{Jobs: r.opt.Jobs, Confirm: f, Progress: d.preData,
		Work: func(ctx context.Context, lane, i int) error {
			if err := workers[lane].run(ctx, actions[i]); err != nil {
				return &actionError{actions[i].Address, err}
			}
			d.lane.finished(actions[i])
			return nil
		}})
	cancel() // a failed run stops the analyze lane at once
	for _, w := range workers {
		w.close()
	}
	if ce := (*sched.CycleError)(nil); errors.As(err, &ce) {
		err = fmt.Errorf("internal error: %d action(s) can never run (dependency cycle)", ce.N)
	}
	return f.close(ctx, err)
}

// tasks is the scheduler's graph of this run's actions: GraphTasks, with the schema action as the
// gate of the copies that may start while pre-data is streamed (schema.go).
func (d *dbRun) tasks(actions []*plan.Action) []sched.Task {
	tasks := GraphTasks(actions)
	index := map[string]int{}
	for i, a := range actions {
		index[a.Address] = i
	}
	schema, early := d.earlyCopies(actions, index)
	if schema >= 0 {
		tasks[schema].Gate = true
	}
	for _, e := range early {
		tasks[e.action].Early = e.chunk + 1 // chunk k has run once pre-data's progress is k+1
	}
	return tasks
}

// GraphTasks is the scheduler's graph of actions as apply runs them, without early starts: each
// action depends on those of its DependsOn in the list, and copies rank after everything else
// (indexes, constraints and the closing steps of loaded tables go first: an index build waits for
// its file to be synced, and a copy beside it uses that time). Task i is actions[i].
func GraphTasks(actions []*plan.Action) []sched.Task {
	index := map[string]int{}
	for i, a := range actions {
		index[a.Address] = i
	}
	tasks := make([]sched.Task, len(actions))
	for i, a := range actions {
		for _, dep := range a.DependsOn {
			if j, ok := index[dep]; ok {
				tasks[i].Deps = append(tasks[i].Deps, j)
			}
		}
		if isCopy(a) {
			tasks[i].Rank = 1
		}
	}
	return tasks
}

// isCopy reports whether an action moves data.
func isCopy(a *plan.Action) bool {
	switch a.Type {
	case plan.TypeTable, plan.TypeTablePart, plan.TypeLargeObj, plan.TypeExtData:
		return true
	}
	return false
}
