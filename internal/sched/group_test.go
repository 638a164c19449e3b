package sched

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
)

// TestRunGroup: the tasks of a group that are ready together go to one lane in one call of
// WorkGroup, in index order; tasks ready at another moment, of another group or without one run
// alone; each member's completion releases its own dependents; a group takes one lane.
func TestRunGroup(t *testing.T) {
	// 0 and 1 are copies of two tables; 2, 3, 4 the indexes of table 0 (group 1), 5 and 6 of
	// table 1 (group 2); 7 depends on index 3 only; 8 is of group 1 but waits for 7.
	tasks := []Task{
		{}, {},
		{Deps: []int{0}, Group: 1}, {Deps: []int{0}, Group: 1}, {Deps: []int{0}, Group: 1},
		{Deps: []int{1}, Group: 2}, {Deps: []int{1}, Group: 2},
		{Deps: []int{3}},
		{Deps: []int{0, 7}, Group: 1},
	}
	var mu sync.Mutex
	var calls [][]int
	running, most := 0, 0
	enter := func(g []int) {
		mu.Lock()
		calls = append(calls, g)
		running++
		most = max(most, running)
		mu.Unlock()
	}
	leave := func() { mu.Lock(); running--; mu.Unlock() }
	err := Run(context.Background(), tasks, Options{Jobs: 2,
		Work: func(ctx context.Context, lane, i int) error {
			enter([]int{i})
			leave()
			return nil
		},
		WorkGroup: func(ctx context.Context, lane int, g []int) []error {
			enter(g)
			leave()
			return make([]error, len(g))
		}})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[int][]int{}
	for _, g := range calls {
		groups[g[0]] = g
	}
	if !reflect.DeepEqual(groups[2], []int{2, 3, 4}) || !reflect.DeepEqual(groups[5], []int{5, 6}) {
		t.Errorf("groups %v, want [2 3 4] and [5 6] each in one call", calls)
	}
	if !reflect.DeepEqual(groups[8], []int{8}) || !reflect.DeepEqual(groups[7], []int{7}) {
		t.Errorf("tasks 7 and 8 ran %v, want each alone", calls)
	}
	if len(calls) != 6 || most > 2 {
		t.Errorf("%d calls, at most %d at once; want 6 calls, at most 2 (Jobs)", len(calls), most)
	}
}

// TestRunGroupLane: a group holds its lane until its last task finished: with one lane, the task
// ready beside a group starts after the whole group.
func TestRunGroupLane(t *testing.T) {
	tasks := []Task{{}, {Deps: []int{0}, Group: 1}, {Deps: []int{0}, Group: 1}, {Deps: []int{0}}}
	var order []int
	err := Run(context.Background(), tasks, Options{Jobs: 1,
		Work: func(ctx context.Context, lane, i int) error { order = append(order, i); return nil },
		WorkGroup: func(ctx context.Context, lane int, g []int) []error {
			order = append(order, g...)
			return make([]error, len(g))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []int{0, 1, 2, 3}) {
		t.Errorf("order %v, want [0 1 2 3]", order)
	}
}

// TestRunGroupFails: a member's error is the run's, its dependents never start, and the other
// members' successes are still confirmed.
func TestRunGroupFails(t *testing.T) {
	tasks := []Task{{}, {Deps: []int{0}, Group: 1}, {Deps: []int{0}, Group: 1}, {Deps: []int{2}}}
	boom := errors.New("boom")
	l := &log{}
	c := &instantLog{l: l}
	err := Run(context.Background(), tasks, Options{Jobs: 2, Confirm: c,
		Work: func(ctx context.Context, lane, i int) error { l.add("run %d", i); return nil },
		WorkGroup: func(ctx context.Context, lane int, g []int) []error {
			return []error{nil, boom}
		}})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	got := l.lines()
	if index(got, "run 3") >= 0 || index(got, "confirm [1]") < 0 || index(got, "confirm [2]") >= 0 {
		t.Errorf("log %v: want 1 confirmed, 2 not, 3 never run", got)
	}
}

// instantLog confirms at once and logs what it confirmed.
type instantLog struct{ l *log }

func (c *instantLog) Confirm(tasks []int, done func(error)) {
	c.l.add("confirm %v", tasks)
	done(nil)
}
func (c *instantLog) Hurry() {}
