package sched

import (
	"context"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"
)

const s = time.Second

// TestSimulate: timelines and critical paths of small graphs.
func TestSimulate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tasks     []Task
		durations []time.Duration
		opt       SimOptions
		want      []Slot
		finish    time.Duration
		critical  []int
	}{
		{
			name:      "one lane runs by rank",
			tasks:     []Task{{Rank: 1}, {}, {Rank: 1}},
			durations: []time.Duration{3 * s, 1 * s, 2 * s},
			opt:       SimOptions{Jobs: 1},
			want:      []Slot{{1 * s, 4 * s, 0, 1}, {0, 1 * s, 0, -1}, {4 * s, 6 * s, 0, 0}},
			finish:    6 * s, critical: []int{1, 0, 2},
		},
		{
			name: "two lanes: the long copy is critical",
			// 0: a 10 s copy; 1: a 2 s index of a small table loaded by 2; 3 waits for 1.
			tasks:     []Task{{Rank: 1}, {Deps: []int{2}}, {Rank: 1}, {Deps: []int{1}}},
			durations: []time.Duration{10 * s, 2 * s, 3 * s, 1 * s},
			opt:       SimOptions{Jobs: 2},
			want:      []Slot{{0, 10 * s, 0, -1}, {3 * s, 5 * s, 1, 2}, {0, 3 * s, 1, -1}, {5 * s, 6 * s, 1, 1}},
			finish:    10 * s, critical: []int{0},
		},
		{
			name:      "a task waiting for a lane starts after the task that freed it",
			tasks:     []Task{{}, {}, {}},
			durations: []time.Duration{2 * s, 5 * s, 4 * s},
			opt:       SimOptions{Jobs: 2},
			want:      []Slot{{0, 2 * s, 0, -1}, {0, 5 * s, 1, -1}, {2 * s, 6 * s, 0, 0}},
			finish:    6 * s, critical: []int{0, 2},
		},
		{
			name:      "confirmation delay holds dependents",
			tasks:     []Task{{}, {Deps: []int{0}}},
			durations: []time.Duration{1 * s, 1 * s},
			opt:       SimOptions{Jobs: 2, ConfirmDelay: s / 4},
			want:      []Slot{{0, 1 * s, 0, -1}, {s + s/4, 2*s + s/4, 0, 0}},
			finish:    2*s + s/2, critical: []int{0, 1},
		},
		{
			name: "early starts beside the gate, dependents after the gate",
			// 0: pre-data, 10 s in 10 chunks; 1 may start after chunk 2, 2 after chunk 8; 3 needs 1;
			// 4 has no Early and waits for the gate.
			tasks: []Task{{Gate: true}, {Deps: []int{0}, Early: 2, Rank: 1}, {Deps: []int{0}, Early: 8, Rank: 1},
				{Deps: []int{1}}, {Deps: []int{0}}},
			durations: []time.Duration{10 * s, 3 * s, 6 * s, 1 * s, 2 * s},
			opt:       SimOptions{Jobs: 3, GateSteps: 10},
			want: []Slot{{0, 10 * s, 0, -1}, {2 * s, 5 * s, 1, 0}, {8 * s, 14 * s, 1, 0},
				{10 * s, 11 * s, 0, 0}, {10 * s, 12 * s, 2, 0}},
			finish: 14 * s, critical: []int{0, 2},
		},
		{
			name:      "without gate steps nothing starts early",
			tasks:     []Task{{Gate: true}, {Deps: []int{0}, Early: 1}},
			durations: []time.Duration{4 * s, 1 * s},
			opt:       SimOptions{Jobs: 2},
			want:      []Slot{{0, 4 * s, 0, -1}, {4 * s, 5 * s, 0, 0}},
			finish:    5 * s, critical: []int{0, 1},
		},
		{
			name:  "empty",
			tasks: nil, durations: nil, opt: SimOptions{Jobs: 2},
			want: []Slot{}, finish: 0, critical: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkTimeline(t, tc.tasks, tc.durations, tc.opt, Timeline{Slots: tc.want, Finish: tc.finish, Critical: tc.critical})
		})
	}
}

// TestSimulateMatchesRun: Run and Simulate share one set of rules: on one lane, the order a real
// run starts tasks in is the order of their simulated starts.
// checkTimeline simulates tasks and compares the timeline's slots, aside slots, finish and
// critical path with want's.
func checkTimeline(t *testing.T, tasks []Task, durations []time.Duration, opt SimOptions, want Timeline) {
	t.Helper()
	tl, err := Simulate(tasks, durations, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tl.Slots, want.Slots) {
		t.Errorf("slots\n%v\nwant\n%v", tl.Slots, want.Slots)
	}
	if !reflect.DeepEqual(tl.Aside, want.Aside) {
		t.Errorf("aside slots\n%v\nwant\n%v", tl.Aside, want.Aside)
	}
	if tl.Finish != want.Finish {
		t.Errorf("finish %v, want %v", tl.Finish, want.Finish)
	}
	if !reflect.DeepEqual(tl.Critical, want.Critical) {
		t.Errorf("critical path %v, want %v", tl.Critical, want.Critical)
	}
}

func TestSimulateMatchesRun(t *testing.T) {
	tasks := []Task{
		{Rank: 1}, {Rank: 1}, {Deps: []int{0}}, {Deps: []int{0}}, {Deps: []int{1}, Rank: 1},
		{Deps: []int{2, 3}}, {Rank: 1}, {Deps: []int{6}}, {Deps: []int{4, 5, 7}},
	}
	var mu sync.Mutex
	var ran []int
	if err := Run(context.Background(), tasks, Options{Jobs: 1, Work: func(ctx context.Context, lane, i int) error {
		mu.Lock()
		ran = append(ran, i)
		mu.Unlock()
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	durations := make([]time.Duration, len(tasks))
	for i := range durations {
		durations[i] = time.Duration(i+1) * s
	}
	tl, err := Simulate(tasks, durations, SimOptions{Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	simulated := make([]int, 0, len(tasks))
	for len(simulated) < len(tasks) {
		next := -1
		for i, sl := range tl.Slots {
			if !contains(simulated, i) && (next < 0 || sl.Start < tl.Slots[next].Start) {
				next = i
			}
		}
		simulated = append(simulated, next)
	}
	if !reflect.DeepEqual(ran, simulated) {
		t.Errorf("run order %v, simulated %v", ran, simulated)
	}
	var total time.Duration
	for _, d := range durations {
		total += d
	}
	if tl.Finish != total {
		t.Errorf("one lane finishes after %v, want the sum %v", tl.Finish, total)
	}
}

func contains(list []int, x int) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

// TestSimulateDurations: one duration per task.
func TestSimulateDurations(t *testing.T) {
	if _, err := Simulate([]Task{{}}, nil, SimOptions{}); err == nil {
		t.Error("Simulate accepted 0 durations for 1 task")
	}
}

// TestSimulateMatchesRunEarly: with a gate, early starts and chained early starts on several lanes,
// a real run driven on Simulate's clock (each task ends, and the gate progresses, when the
// simulation says) starts exactly the tasks Simulate starts, at the same moments.
func TestSimulateMatchesRunEarly(t *testing.T) {
	tasks := []Task{
		{Gate: true},                        // 0: pre-data, 10 s in 5 steps
		{Deps: []int{0}, Early: 1, Rank: 1}, // 1: copy of a
		{Deps: []int{0}, Early: 2, Rank: 1}, // 2: copy of b
		{Deps: []int{1}, Early: 3},          // 3: index of a
		{Deps: []int{2}, Early: 1},          // 4: index of b
		{Deps: []int{2, 3}, Early: 1},       // 5: foreign key b → a
		{Deps: []int{3}},                    // 6: waits for the gate's confirmation
		{Deps: []int{0}, Early: 9},          // 7: its step never comes
		{Deps: []int{0}, Early: 1, Rank: 1}, // 8: copy of c
		{Deps: []int{8}, Early: 1, Rank: 1}, // 9: a part of c
		{Deps: []int{6, 9}},                 // 10: after all
	}
	d := []time.Duration{10 * s, 3 * s, 1500 * time.Millisecond, 2 * s, 700 * time.Millisecond, 1 * s, 1 * s, 2 * s, 5 * s, 1300 * time.Millisecond, 1 * s}
	opt := SimOptions{Jobs: 3, GateSteps: 5}
	tl, err := Simulate(tasks, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []Slot{{0, 10 * s, 0, -1}, {2 * s, 5 * s, 1, 0}, {5 * s, 6500 * time.Millisecond, 1, 1},
		{6500 * time.Millisecond, 8500 * time.Millisecond, 1, 2}, {7 * s, 7700 * time.Millisecond, 2, 8},
		{8500 * time.Millisecond, 9500 * time.Millisecond, 1, 3}, {10 * s, 11 * s, 0, 0}, {10 * s, 12 * s, 1, 0},
		{2 * s, 7 * s, 2, 0}, {7700 * time.Millisecond, 9 * s, 2, 4}, {11 * s, 12 * s, 0, 6}}
	if !reflect.DeepEqual(tl.Slots, want) {
		t.Errorf("slots\n%v\nwant\n%v", tl.Slots, want)
	}
	if want := []int{0, 6, 10}; !reflect.DeepEqual(tl.Critical, want) {
		t.Errorf("critical path %v, want %v", tl.Critical, want)
	}

	replay(t, tasks, d, opt, tl)
}

// replay runs tasks for real on the simulated timeline tl's clock (each task ends, and the gate
// progresses, when tl says) and fails unless Run starts exactly the tasks Simulate started at each
// moment.
func replay(t *testing.T, tasks []Task, d []time.Duration, opt SimOptions, tl *Timeline) {
	t.Helper()
	// The same graph run for real, on the simulation's clock.
	p := NewProgress()
	started := make(chan int, len(tasks))
	end := make([]chan struct{}, len(tasks))
	for i := range end {
		end[i] = make(chan struct{})
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Run(context.Background(), tasks, Options{Jobs: opt.Jobs, Extra: opt.Extra, Progress: p, Work: func(ctx context.Context, lane, i int) error {
			started <- i
			<-end[i]
			return nil
		}})
	}()
	// The moments something happens: a task ends, or the gate reaches a step some task waits for.
	type moment struct {
		at   time.Duration
		step int
		ends []int
	}
	var moments []moment
	at := func(x time.Duration) *moment {
		for k := range moments {
			if moments[k].at == x {
				return &moments[k]
			}
		}
		moments = append(moments, moment{at: x})
		return &moments[len(moments)-1]
	}
	for n := 1; n <= opt.GateSteps && tasks[0].Gate; n++ {
		at(tl.Slots[0].End * time.Duration(n) / time.Duration(opt.GateSteps)).step = n
	}
	for i, sl := range tl.Slots {
		m := at(sl.End)
		m.ends = append(m.ends, i)
	}
	at(0)
	sort.Slice(moments, func(x, y int) bool { return moments[x].at < moments[y].at })
	for _, m := range moments {
		if m.step > 0 {
			p.Set(m.step)
		}
		for _, i := range m.ends {
			close(end[i])
		}
		var expect []int
		for i, sl := range tl.Slots {
			if sl.Start == m.at {
				expect = append(expect, i)
			}
		}
		got := map[int]bool{}
		for len(got) < len(expect) {
			select {
			case i := <-started:
				got[i] = true
			case <-time.After(10 * time.Second):
				t.Fatalf("at %v: started %v, want %v", m.at, got, expect)
			}
		}
		time.Sleep(10 * time.Millisecond) // anything else Run would start now
	drain:
		for {
			select {
			case i := <-started:
				got[i] = true
			default:
				break drain
			}
		}
		var gotList []int
		for i := range got {
			gotList = append(gotList, i)
		}
		sort.Ints(gotList)
		if !reflect.DeepEqual(gotList, expect) && !(len(gotList) == 0 && len(expect) == 0) {
			t.Fatalf("at %v: Run started %v, Simulate %v", m.at, gotList, expect)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestSimulateExtraLanes: Small tasks also run on the Extra lanes, the others on the Jobs lanes
// only; Run decides the same.
func TestSimulateExtraLanes(t *testing.T) {
	tasks := []Task{
		{Rank: 1},                        // 0: a big copy
		{Rank: 1},                        // 1: another
		{Rank: 1},                        // 2: a third: waits for a Jobs lane
		{Rank: 1, Small: true},           // 3: small copies: on the extra lanes
		{Rank: 1, Small: true},           // 4
		{Rank: 1, Small: true},           // 5: no lane left: waits
		{Deps: []int{3}, Small: true},    // 6: a small table's index
		{Deps: []int{0}},                 // 7: the big table's index: a Jobs lane
		{Deps: []int{6, 5}, Small: true}, // 8
	}
	d := []time.Duration{10 * s, 6 * s, 3 * s, 1 * s, 2 * s, 1500 * time.Millisecond, 700 * time.Millisecond, 4 * s, 300 * time.Millisecond}
	opt := SimOptions{Jobs: 2, Extra: 2}
	tl, err := Simulate(tasks, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	want := []Slot{{0, 10 * s, 0, -1}, {0, 6 * s, 1, -1}, {6 * s, 9 * s, 1, 1}, {0, 1 * s, 2, -1}, {0, 2 * s, 3, -1},
		{1700 * ms, 3200 * ms, 2, 6}, {1 * s, 1700 * ms, 2, 3}, {10 * s, 14 * s, 0, 0}, {3200 * ms, 3500 * ms, 2, 5}}
	if !reflect.DeepEqual(tl.Slots, want) {
		t.Errorf("slots\n%v\nwant\n%v", tl.Slots, want)
	}
	replay(t, tasks, d, opt, tl)

	// Without extra lanes the small tasks queue behind the big ones, in rank and index order.
	tl0, err := Simulate(tasks, d, SimOptions{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if tl0.Finish <= tl.Finish {
		t.Errorf("without extra lanes the run ends at %v, not later than with them (%v)", tl0.Finish, tl.Finish)
	}
	replay(t, tasks, d, SimOptions{Jobs: 2}, tl0)
}

// TestLockConflicts: the server's table lock conflict table, as the simulation uses it.
func TestLockConflicts(t *testing.T) {
	for _, tc := range []struct {
		a, b LockMode
		want bool
	}{
		{Share, Share, false},                           // two CREATE INDEX on one table
		{Share, ShareRowExclusive, true},                // CREATE INDEX and ADD FOREIGN KEY
		{ShareRowExclusive, ShareRowExclusive, true},    // two foreign keys on one table
		{ShareUpdateExclusive, ShareRowExclusive, true}, // ANALYZE and ADD FOREIGN KEY
		{ShareUpdateExclusive, Share, true},             // ANALYZE and CREATE INDEX
		{ShareUpdateExclusive, ShareUpdateExclusive, true},
		{RowExclusive, RowExclusive, false}, // two COPY into one table
		{RowExclusive, Share, true},
		{AccessShare, Exclusive, false},
		{AccessShare, AccessExclusive, true}, // ADD PRIMARY KEY blocks even reads
		{AccessExclusive, AccessExclusive, true},
		{0, AccessExclusive, false}, // no lock
	} {
		if got := tc.a.Conflicts(tc.b); got != tc.want {
			t.Errorf("%d conflicts with %d: %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Conflicts(tc.a); got != tc.want {
			t.Errorf("%d conflicts with %d: %v, want %v (the table is symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestSimulateLocks: tasks whose locks conflict run one after another, each waiting on its lane
// for the lock asked for before; the aside connection (apply's analyze lane) takes part.
func TestSimulateLocks(t *testing.T) {
	fk := func(tables ...string) []Lock {
		var ls []Lock
		for _, n := range tables {
			ls = append(ls, Lock{n, ShareRowExclusive})
		}
		return ls
	}
	index := []Lock{{"a", Share}}
	for _, tc := range []struct {
		name      string
		tasks     []Task
		durations []time.Duration
		opt       SimOptions
		want      []Slot
		aside     []Slot
		finish    time.Duration
		critical  []int
	}{
		{
			name:      "two foreign keys on one table wait for each other",
			tasks:     []Task{{}, {}},
			durations: []time.Duration{2 * s, 3 * s},
			opt:       SimOptions{Jobs: 2, Locks: [][]Lock{fk("a", "b"), fk("c", "a")}},
			want:      []Slot{{0, 2 * s, 0, -1}, {0, 5 * s, 1, 0}},
			finish:    5 * s, critical: []int{0, 1},
		},
		{
			name:      "foreign keys on other tables run side by side",
			tasks:     []Task{{}, {}},
			durations: []time.Duration{2 * s, 3 * s},
			opt:       SimOptions{Jobs: 2, Locks: [][]Lock{fk("a", "b"), fk("c", "d")}},
			want:      []Slot{{0, 2 * s, 0, -1}, {0, 3 * s, 1, -1}},
			finish:    3 * s, critical: []int{1},
		},
		{
			name:      "index builds share a table",
			tasks:     []Task{{}, {}},
			durations: []time.Duration{2 * s, 3 * s},
			opt:       SimOptions{Jobs: 2, Locks: [][]Lock{index, index}},
			want:      []Slot{{0, 2 * s, 0, -1}, {0, 3 * s, 1, -1}},
			finish:    3 * s, critical: []int{1},
		},
		{
			name: "a foreign key waits for the index build, an index asked for after it waits for both",
			// The server's queue: the third's SHARE does not conflict with the first's, but with
			// the foreign key's request before it.
			tasks:     []Task{{}, {}, {}},
			durations: []time.Duration{3 * s, 1 * s, 1 * s},
			opt:       SimOptions{Jobs: 3, Locks: [][]Lock{index, fk("a", "b"), index}},
			want:      []Slot{{0, 3 * s, 0, -1}, {0, 4 * s, 1, 0}, {0, 5 * s, 2, 1}},
			finish:    5 * s, critical: []int{0, 1, 2},
		},
		{
			name: "the analyze connection's ANALYZE holds up a foreign key",
			// 0 loads a (2 s); the connection analyzes a as soon as 0 ends (1 s); 1, a foreign key
			// to a, waits for it.
			tasks:     []Task{{Rank: 1}, {Deps: []int{0}}},
			durations: []time.Duration{2 * s, 3 * s},
			opt: SimOptions{Jobs: 2, Locks: [][]Lock{nil, fk("b", "a")}, Aside: &Aside{Stop: -1,
				Items: []AsideItem{{After: []int{0}, Duration: s, Locks: []Lock{{"a", ShareUpdateExclusive}}}}}},
			want:   []Slot{{0, 2 * s, 0, -1}, {2 * s, 6 * s, 0, 0}},
			aside:  []Slot{{2 * s, 3 * s, 2, -1}},
			finish: 6 * s, critical: []int{0, 1},
		},
		{
			name: "the stop task waits for the connection's batch and runs what it never took",
			// 2 stops the connection at 3 s while it analyzes item 0 (until 5 s); item 1, ready
			// at 3 s, was never taken: 2 runs it on the two lanes (1 s) after its own 1 s.
			tasks:     []Task{{}, {}, {Deps: []int{0, 1}}},
			durations: []time.Duration{3 * s, 1 * s, 1 * s},
			opt: SimOptions{Jobs: 2, Aside: &Aside{Stop: 2, Items: []AsideItem{
				{After: []int{1}, Duration: 4 * s}, {After: []int{0}, Duration: 2 * s}}}},
			want:   []Slot{{0, 3 * s, 0, -1}, {0, 1 * s, 1, -1}, {3 * s, 7 * s, 0, 0}},
			aside:  []Slot{{1 * s, 5 * s, 2, -1}, {-1, -1, 2, -1}},
			finish: 7 * s, critical: []int{0, 2},
		},
		{
			name: "what the connection is ready for when idle runs in one batch",
			// Items 0 and 1 are ready at 1 s and run one after another; the stop task, started
			// at 1 s too, waits for the batch (until 4 s), then runs its own 1 s.
			tasks:     []Task{{}, {Deps: []int{0}}},
			durations: []time.Duration{1 * s, 1 * s},
			opt: SimOptions{Jobs: 1, Aside: &Aside{Stop: 1, Items: []AsideItem{
				{After: []int{0}, Duration: 2 * s}, {After: []int{0}, Duration: s}}}},
			want:   []Slot{{0, 1 * s, 0, -1}, {1 * s, 5 * s, 0, 0}},
			aside:  []Slot{{1 * s, 3 * s, 1, -1}, {3 * s, 4 * s, 1, -1}},
			finish: 5 * s, critical: []int{0, 1},
		},
		{
			name: "a batch holds at most Batch items",
			// Items 0 and 1 are ready at 1 s; the connection takes item 0 alone; the stop task,
			// started at 1 s too, waits for it (until 3 s) and runs item 1 itself after its own.
			tasks:     []Task{{}, {Deps: []int{0}}},
			durations: []time.Duration{1 * s, 1 * s},
			opt: SimOptions{Jobs: 1, Aside: &Aside{Stop: 1, Batch: 1, Items: []AsideItem{
				{After: []int{0}, Duration: 2 * s}, {After: []int{0}, Duration: s}}}},
			want:   []Slot{{0, 1 * s, 0, -1}, {1 * s, 5 * s, 0, 0}},
			aside:  []Slot{{1 * s, 3 * s, 1, -1}, {-1, -1, 1, -1}},
			finish: 5 * s, critical: []int{0, 1},
		},
		{
			name: "what ran early is analyzed once the gate is confirmed",
			// 1 starts beside the gate at 5 s and ends at 7 s; the connection hears of it with the
			// gate's confirmation at 10 s.
			tasks:     []Task{{Gate: true}, {Deps: []int{0}, Early: 1, Rank: 1}},
			durations: []time.Duration{10 * s, 2 * s},
			opt: SimOptions{Jobs: 2, GateSteps: 2, Aside: &Aside{Stop: -1, Items: []AsideItem{
				{After: []int{1}, Duration: s}}}},
			want:   []Slot{{0, 10 * s, 0, -1}, {5 * s, 7 * s, 1, 0}},
			aside:  []Slot{{10 * s, 11 * s, 2, -1}},
			finish: 10 * s, critical: []int{0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkTimeline(t, tc.tasks, tc.durations, tc.opt, Timeline{Slots: tc.want, Aside: tc.aside, Finish: tc.finish, Critical: tc.critical})
		})
	}
	if _, err := Simulate([]Task{{}}, []time.Duration{s}, SimOptions{Jobs: 1, Aside: &Aside{Stop: -1, Items: []AsideItem{{After: []int{3}}}}}); err == nil {
		t.Error("an aside item waiting for a task that does not exist: no error")
	}
}
