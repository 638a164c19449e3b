package sched

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// log records what the tasks did, in order.
type log struct {
	mu  sync.Mutex
	all []string
}

func (l *log) add(format string, args ...any) {
	l.mu.Lock()
	l.all = append(l.all, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *log) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// index is where line appears in lines, or -1.
func index(lines []string, line string) int {
	for k, l := range lines {
		if l == line {
			return k
		}
	}
	return -1
}

// TestRunOrder: with one lane, tasks start by dependencies, then Rank, then index.
func TestRunOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tasks []Task
		want  []int
	}{
		{"index order", []Task{{}, {}, {}}, []int{0, 1, 2}},
		{"lower rank first", []Task{{Rank: 1}, {Rank: 0}, {Rank: 1}, {Rank: 0}}, []int{1, 3, 0, 2}},
		{"dependencies first", []Task{{Deps: []int{1}}, {Deps: []int{2}}, {}}, []int{2, 1, 0}},
		{"a released task goes by rank", []Task{{Rank: 1}, {Rank: 0, Deps: []int{0}}, {Rank: 1}}, []int{0, 1, 2}},
		{"diamond", []Task{{}, {Deps: []int{0}, Rank: 1}, {Deps: []int{0}}, {Deps: []int{1, 2}}}, []int{0, 2, 1, 3}},
		{"empty", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			err := Run(context.Background(), tc.tasks, Options{Jobs: 1, Work: func(ctx context.Context, lane, i int) error {
				got = append(got, i) // one lane: one task at a time
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRunJobs: at most Jobs tasks run at once, each lane one at a time, and every task runs once.
func TestRunJobs(t *testing.T) {
	for _, jobs := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(jobs), func(t *testing.T) {
			tasks := make([]Task, 12)
			for i := 4; i < len(tasks); i++ {
				tasks[i].Deps = []int{i % 4}
			}
			var running, most atomic.Int32
			var lanes [3]atomic.Int32
			var ran [12]atomic.Int32
			err := Run(context.Background(), tasks, Options{Jobs: jobs, Work: func(ctx context.Context, lane, i int) error {
				if lanes[lane].Add(1) != 1 {
					t.Errorf("lane %d runs two tasks at once", lane)
				}
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				// Stay until the lanes are all busy once (or a while), so that a loaded machine
				// that starts the next task late does not hide a limit not kept.
				for deadline := time.Now().Add(time.Second); most.Load() < int32(jobs) && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				running.Add(-1)
				lanes[lane].Add(-1)
				ran[i].Add(1)
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if most.Load() != int32(jobs) {
				t.Errorf("at most %d ran at once, want %d", most.Load(), jobs)
			}
			for i := range ran {
				if ran[i].Load() != 1 {
					t.Errorf("task %d ran %d times", i, ran[i].Load())
				}
			}
		})
	}
}

// confirmer holds confirmations until the test releases them.
type confirmer struct {
	l       *log
	mu      sync.Mutex
	batches [][]int
	dones   []func(error)
	hurried atomic.Int32
	queued  chan struct{}
}

func newConfirmer(l *log) *confirmer { return &confirmer{l: l, queued: make(chan struct{}, 100)} }

func (c *confirmer) Confirm(tasks []int, done func(error)) {
	c.l.add("confirm %v", tasks)
	c.mu.Lock()
	c.batches, c.dones = append(c.batches, tasks), append(c.dones, done)
	c.mu.Unlock()
	c.queued <- struct{}{}
}

func (c *confirmer) Hurry() { c.hurried.Add(1) }

// release confirms the oldest batch not confirmed yet with err, waiting for it to be queued.
func (c *confirmer) release(t *testing.T, err error) []int {
	t.Helper()
	select {
	case <-c.queued:
	case <-time.After(10 * time.Second):
		t.Fatal("no confirmation was queued")
	}
	c.mu.Lock()
	b, done := c.batches[0], c.dones[0]
	c.batches, c.dones = c.batches[1:], c.dones[1:]
	c.mu.Unlock()
	c.l.add("confirmed %v", b)
	done(err)
	return b
}

// TestRunConfirmation: a task's dependents start only once its completion is confirmed, and a
// lane idle for want of a confirmation asks the confirmer to hurry.
func TestRunConfirmation(t *testing.T) {
	l := &log{}
	c := newConfirmer(l)
	tasks := []Task{{}, {Deps: []int{0}}, {Deps: []int{1}}}
	errc := make(chan error, 1)
	go func() {
		errc <- Run(context.Background(), tasks, Options{Jobs: 2, Confirm: c, Work: func(ctx context.Context, lane, i int) error {
			l.add("run %d", i)
			return nil
		}})
	}()
	for _, want := range [][]int{{0}, {1}, {2}} {
		time.Sleep(20 * time.Millisecond) // a dependent that did not wait would have started
		if got := c.release(t, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("confirmed %v, want %v", got, want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	want := []string{"run 0", "confirm [0]", "confirmed [0]", "run 1", "confirm [1]", "confirmed [1]", "run 2", "confirm [2]", "confirmed [2]"}
	if got := l.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("log:\n%q\nwant\n%q", got, want)
	}
	if c.hurried.Load() == 0 {
		t.Error("idle lanes never asked the confirmer to hurry")
	}
}

// TestRunConfirmError: a confirmation that fails ends the run with its error; nothing that
// depends on the unconfirmed task starts.
func TestRunConfirmError(t *testing.T) {
	l := &log{}
	c := newConfirmer(l)
	boom := errors.New("the state could not be written")
	errc := make(chan error, 1)
	go func() {
		errc <- Run(context.Background(), []Task{{}, {Deps: []int{0}}}, Options{Jobs: 2, Confirm: c, Work: func(ctx context.Context, lane, i int) error {
			l.add("run %d", i)
			return nil
		}})
	}()
	c.release(t, boom)
	if err := <-errc; !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	if index(l.lines(), "run 1") >= 0 {
		t.Error("task 1 ran although task 0 was never confirmed")
	}
}

// TestRunEarlyStart: tasks may start beside the gate once its progress reached their Early, their
// completion is confirmed with the gate's (never before), and nothing depending on them starts
// before that. A task without Early waits for the gate's confirmation.
func TestRunEarlyStart(t *testing.T) {
	l := &log{}
	c := newConfirmer(l)
	p := NewProgress()
	tasks := []Task{
		{Gate: true},                           // 0: pre-data
		{Deps: []int{0}, Early: 1, Rank: 1},    // 1: starts after chunk 1
		{Deps: []int{0}, Early: 2, Rank: 1},    // 2: starts after chunk 2
		{Deps: []int{0}},                       // 3: waits for the gate's confirmation
		{Deps: []int{1}},                       // 4: waits for 1's confirmation (with the gate's)
		{Deps: []int{0}, Early: 9, Rank: 1},    // 5: its chunk never comes before the gate ends
		{Deps: []int{0, 3}, Early: 1, Rank: 1}, // 6: depends on 3 too: starts normally
	}
	step := make(chan struct{})
	ran := map[int]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		errc <- Run(context.Background(), tasks, Options{Jobs: 4, Confirm: c, Progress: p, Work: func(ctx context.Context, lane, i int) error {
			l.add("run %d", i)
			switch i {
			case 0:
				for n := 1; n <= 3; n++ {
					<-step
					l.add("progress %d", n)
					p.Set(n)
				}
				<-step
				l.add("gate done")
			case 1, 2:
				close(ran[i])
			}
			return nil
		}})
	}()
	step <- struct{}{}
	<-ran[1]
	step <- struct{}{}
	<-ran[2]
	step <- struct{}{}
	time.Sleep(20 * time.Millisecond)
	step <- struct{}{}
	// The early tasks in the order they finished: 1 and 2 may be taken either way round.
	if got := c.release(t, nil); !reflect.DeepEqual(got, []int{0, 1, 2}) && !reflect.DeepEqual(got, []int{0, 2, 1}) {
		t.Fatalf("first confirmation %v, want the gate with the early tasks [0 1 2]", got)
	}
	for range 4 { // 3, 4, 5, 6 in some order
		c.release(t, nil)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	lines := l.lines()
	before := func(a, b string) {
		t.Helper()
		x, y := index(lines, a), index(lines, b)
		if x < 0 || y < 0 || x > y {
			t.Errorf("%q (at %d) should come before %q (at %d):\n%q", a, x, b, y, lines)
		}
	}
	before("progress 1", "run 1")
	before("run 1", "progress 2")
	before("progress 2", "run 2")
	before("run 2", "progress 3")
	first := "confirm [0 1 2]"
	if index(lines, first) < 0 {
		first = "confirm [0 2 1]"
	}
	before("gate done", first)
	for _, k := range []string{"run 3", "run 4", "run 5", "run 6"} {
		before("confirmed"+strings.TrimPrefix(first, "confirm"), k)
	}
	before("confirmed [3]", "run 6")
}

// TestRunGateFails: when the gate fails, the early tasks that finished are never confirmed.
func TestRunGateFails(t *testing.T) {
	l := &log{}
	c := newConfirmer(l)
	p := NewProgress()
	boom := errors.New("pre-data failed")
	early := make(chan struct{})
	err := Run(context.Background(), []Task{{Gate: true}, {Deps: []int{0}, Early: 1}}, Options{Jobs: 2, Confirm: c, Progress: p,
		Work: func(ctx context.Context, lane, i int) error {
			l.add("run %d", i)
			if i == 1 {
				close(early)
				return nil
			}
			p.Set(1)
			<-early
			time.Sleep(10 * time.Millisecond) // task 1's result is taken first
			return boom
		}})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	for _, line := range l.lines() {
		if strings.HasPrefix(line, "confirm") {
			t.Errorf("%s after the gate failed", line)
		}
	}
}

// TestRunErrorCancels: the first error cancels the running tasks, starts nothing more, and is
// what Run returns (not the cancelled tasks' errors).
func TestRunErrorCancels(t *testing.T) {
	boom := errors.New("copy failed")
	started := make(chan struct{})
	var ran sync.Map
	err := Run(context.Background(), []Task{{}, {}, {Deps: []int{0}}, {Rank: 1}}, Options{Jobs: 2, Work: func(ctx context.Context, lane, i int) error {
		ran.Store(i, true)
		switch i {
		case 0:
			close(started)
			<-ctx.Done() // cancelled by 1's failure
			return ctx.Err()
		case 1:
			<-started
			return boom
		}
		return nil
	}})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	for _, i := range []int{2, 3} {
		if _, ok := ran.Load(i); ok {
			t.Errorf("task %d started after the failure", i)
		}
	}
}

// TestRunInvalid: graphs that cannot run are refused, or reported as a cycle once nothing can go on.
func TestRunInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tasks []Task
		want  string
	}{
		{"cycle", []Task{{Deps: []int{1}}, {Deps: []int{0}}, {}}, "2 task(s) can never run (dependency cycle)"},
		{"self", []Task{{Deps: []int{0}}}, "1 task(s) can never run (dependency cycle)"},
		{"unknown dependency", []Task{{Deps: []int{3}}}, "task 0 depends on task 3, which does not exist"},
		{"two gates", []Task{{Gate: true}, {Gate: true}}, "tasks 0 and 1 are both the gate: there is at most one"},
		{"early without gate", []Task{{}, {Deps: []int{0}, Early: 1}}, "task 1 may start early but does not depend on a gate task"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Int32
			err := Run(context.Background(), tc.tasks, Options{Jobs: 2, Work: func(ctx context.Context, lane, i int) error {
				ran.Add(1)
				return nil
			}})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Run = %v, want %q", err, tc.want)
			}
			if _, serr := Simulate(tc.tasks, make([]time.Duration, len(tc.tasks)), SimOptions{Jobs: 2}); serr == nil || serr.Error() != tc.want {
				t.Errorf("Simulate = %v, want %q", serr, tc.want)
			}
		})
	}
	var ce *CycleError
	if err := Run(context.Background(), []Task{{Deps: []int{0}}}, Options{Work: func(context.Context, int, int) error { return nil }}); !errors.As(err, &ce) || ce.N != 1 {
		t.Errorf("Run = %v, want a *CycleError of 1", err)
	}
}

// instant confirms every batch from Confirm itself.
type instant struct{ batches [][]int }

func (c *instant) Confirm(tasks []int, done func(error)) {
	c.batches = append(c.batches, tasks)
	done(nil)
}

func (c *instant) Hurry() {}

// TestRunConfirmSynchronously: a confirmer may call done from Confirm itself.
func TestRunConfirmSynchronously(t *testing.T) {
	c := &instant{}
	err := Run(context.Background(), []Task{{}, {Deps: []int{0}}, {Deps: []int{1}}}, Options{Jobs: 2, Confirm: c,
		Work: func(context.Context, int, int) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{0}, {1}, {2}}; !reflect.DeepEqual(c.batches, want) {
		t.Errorf("confirmed %v, want %v", c.batches, want)
	}
}

// TestRunEarlyChain: early starts chain: a task may start early on dependencies that themselves
// finished early (a table's copy, then its index, then a foreign key between two such tables),
// every one held and confirmed with the gate, never before; a dependent without Early, or whose
// Early the gate never reaches before it ends, waits for that confirmation.
func TestRunEarlyChain(t *testing.T) {
	l := &log{}
	c := newConfirmer(l)
	p := NewProgress()
	tasks := []Task{
		{Gate: true},                        // 0: pre-data
		{Deps: []int{0}, Early: 1, Rank: 1}, // 1: copy of table a
		{Deps: []int{0}, Early: 1, Rank: 1}, // 2: copy of table b
		{Deps: []int{1}, Early: 2},          // 3: index of a, once chunk 2 ran
		{Deps: []int{2, 3, 1}, Early: 2},    // 4: foreign key b → a: needs both copies and a's index
		{Deps: []int{3}},                    // 5: no Early: waits for 3's confirmation
		{Deps: []int{1}, Early: 9},          // 6: its chunk never comes before the gate ends
		{Deps: []int{4}, Early: 1, Rank: 2}, // 7: chains on 4 as soon as 4 finished
	}
	ran := make(chan int, len(tasks))
	step := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- Run(context.Background(), tasks, Options{Jobs: 3, Confirm: c, Progress: p, Work: func(ctx context.Context, lane, i int) error {
			l.add("run %d", i)
			if i == 0 {
				for n := 1; n <= 2; n++ {
					<-step
					l.add("progress %d", n)
					p.Set(n)
				}
				<-step
				l.add("gate done")
				return nil
			}
			ran <- i
			return nil
		}})
	}()
	wait := func(want ...int) {
		t.Helper()
		got := map[int]bool{}
		for len(got) < len(want) {
			select {
			case i := <-ran:
				got[i] = true
			case <-time.After(10 * time.Second):
				t.Fatalf("tasks %v did not run (ran %v)", want, got)
			}
		}
		for _, i := range want {
			if !got[i] {
				t.Fatalf("ran %v, want %v", got, want)
			}
		}
	}
	step <- struct{}{} // progress 1: the copies
	wait(1, 2)
	step <- struct{}{} // progress 2: the index, then the foreign key, then 7
	wait(3)
	wait(4)
	wait(7)
	time.Sleep(20 * time.Millisecond) // 5 and 6 would have started by now if they did not wait
	step <- struct{}{}                // the gate ends
	got := c.release(t, nil)
	if got[0] != 0 || len(got) != 6 {
		t.Fatalf("first confirmation %v, want the gate with the five early tasks", got)
	}
	for range 2 { // 5 and 6, in some order
		c.release(t, nil)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	lines := l.lines()
	confirmed := index(lines, fmt.Sprintf("confirmed %v", got))
	for _, k := range []int{5, 6} {
		if x := index(lines, fmt.Sprintf("run %d", k)); x < confirmed {
			t.Errorf("task %d ran (at %d) before the gate's confirmation (at %d):\n%q", k, x, confirmed, lines)
		}
	}
	for _, k := range []int{1, 2, 3, 4, 7} {
		if x := index(lines, fmt.Sprintf("run %d", k)); x > index(lines, "gate done") {
			t.Errorf("task %d ran after the gate ended:\n%q", k, lines)
		}
	}
}

// TestRunEarlyChainFails: an early task that fails while the gate runs ends the run: the gate is
// cancelled and nothing held is ever confirmed.
func TestRunEarlyChainFails(t *testing.T) {
	l := &log{}
	c := newConfirmer(l)
	p := NewProgress()
	boom := errors.New("could not create unique index")
	err := Run(context.Background(), []Task{{Gate: true}, {Deps: []int{0}, Early: 1}, {Deps: []int{1}, Early: 1}},
		Options{Jobs: 3, Confirm: c, Progress: p, Work: func(ctx context.Context, lane, i int) error {
			l.add("run %d", i)
			switch i {
			case 0:
				p.Set(1)
				<-ctx.Done()
				return ctx.Err()
			case 2:
				return boom
			}
			return nil
		}})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	for _, line := range l.lines() {
		if strings.HasPrefix(line, "confirm") {
			t.Errorf("%s after an early task failed", line)
		}
	}
	if index(l.lines(), "run 2") < 0 {
		t.Error("task 2 never started early on task 1")
	}
}
