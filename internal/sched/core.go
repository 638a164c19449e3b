package sched

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
)

// Task is one node of the graph. Tasks are named by their index in the slice given to Run or
// Simulate; that index is also the tie-break among ready tasks of the same Rank.
type Task struct {
	// Deps are the indexes of the tasks whose completion must be confirmed before this one starts.
	Deps []int
	// Rank orders ready tasks: lower first, then by index.
	Rank int
	// Gate marks the one task others may start early beside (pre-data, streamed): see Early.
	Gate bool
	// Early, when above 0, lets the task start before the gate's completion is confirmed, once the
	// gate's progress reached Early, provided each of its dependencies not confirmed yet is the
	// gate or an early task that finished while the gate ran (its completion held). Its own
	// completion is then held in turn and confirmed together with the gate's (after it, when it
	// finishes once the gate finished), never before; so early starts
	// chain (a table's copy, then its indexes, then a foreign key between two such tables) and a run
	// that stops before the gate's confirmation has every one of them to do again. A task with
	// Early must depend on the gate or on another task with Early.
	Early int
	// Small marks a latency-bound task (a small table's copy, index or foreign key: its time goes
	// to round trips, not to the servers' CPU or disks): besides the Jobs lanes it may also run on
	// the Extra ones.
	Small bool
	// Group, when above 0, lets Run hand the task to one lane together with the other tasks of the
	// same Group (and the same Small) that are ready at the moment it starts (Options.WorkGroup):
	// a table's indexes, sent in one message. Each keeps its own dependencies, completion and
	// confirmation; the group takes one lane until its last task finished. Simulate runs them one
	// by one.
	Group int
}

// CycleError reports tasks that can never run: their dependencies form a cycle.
type CycleError struct{ N int }

func (e *CycleError) Error() string {
	return fmt.Sprintf("%d task(s) can never run (dependency cycle)", e.N)
}

// core holds the scheduling decisions shared by Run and Simulate. It is not safe for concurrent
// use: one goroutine (Run's loop, or Simulate) drives it.
type core struct {
	tasks      []Task
	jobs       int
	extra      int       // lanes beyond jobs, for Small tasks only
	big        int       // tasks running that are not Small
	readySmall readyHeap // the ready Small tasks (ready holds the others)
	waiting    []int     // dependencies not confirmed yet
	dependents [][]int   // reverse edges
	ready      readyHeap
	early      []int  // tasks that may start early, by Early then index; consumed from the front
	armed      []bool // the gate's progress reached the task's Early
	started    []bool // started early
	// prov counts a task's unconfirmed dependencies that do not keep it from starting early: the
	// gate, and early tasks that finished while the gate ran (provisional).
	prov        []int
	provisional []bool
	gateTask    int   // index of the gate task; -1 when none
	gate        int   // the gate task while it runs; -1 when none, or once it finished
	held        []int // early tasks finished before the gate, waiting to be confirmed with it
	running     int
	remaining   int // tasks neither confirmed nor failed
	unconfirm   int // tasks finished and handed to confirmation, not confirmed yet
	failed      bool
	// grouping is set by Run when it can run groups: grouped holds each group's ready tasks (the
	// first is in a ready heap and stands for the others), lead a started group's task → the task
	// that led it, left how many of a group started by its lead have not finished.
	grouping bool
	grouped  map[[2]int][]int
	lead     map[int]int
	left     map[int]int
}

func newCore(tasks []Task, jobs, extra int) (*core, error) {
	n := len(tasks)
	c := &core{tasks: tasks, jobs: max(jobs, 1), extra: max(extra, 0), gate: -1, gateTask: -1, remaining: n,
		waiting: make([]int, n), dependents: make([][]int, n), started: make([]bool, n),
		armed: make([]bool, n), prov: make([]int, n), provisional: make([]bool, n)}
	c.ready.tasks, c.readySmall.tasks = tasks, tasks
	c.grouped, c.lead, c.left = map[[2]int][]int{}, map[int]int{}, map[int]int{}
	for i, t := range tasks {
		if t.Gate {
			if c.gate >= 0 {
				return nil, fmt.Errorf("tasks %d and %d are both the gate: there is at most one", c.gate, i)
			}
			c.gate, c.gateTask = i, i
		}
		for _, j := range t.Deps {
			if j < 0 || j >= n {
				return nil, fmt.Errorf("task %d depends on task %d, which does not exist", i, j)
			}
			c.waiting[i]++
			c.dependents[j] = append(c.dependents[j], i)
		}
	}
	for i, t := range tasks {
		if t.Early <= 0 {
			continue
		}
		if c.gate < 0 || !dependsOn(t, c.gate) && !dependsOnEarly(tasks, t) {
			return nil, fmt.Errorf("task %d may start early but does not depend on a gate task", i)
		}
		c.early = append(c.early, i)
		for _, j := range t.Deps {
			if j == c.gate {
				c.prov[i]++ // the gate never holds back an early start
			}
		}
	}
	sort.SliceStable(c.early, func(x, y int) bool { return tasks[c.early[x]].Early < tasks[c.early[y]].Early })
	for i := range tasks {
		if c.waiting[i] == 0 {
			c.push(i)
		}
	}
	return c, nil
}

func dependsOnEarly(tasks []Task, t Task) bool {
	for _, d := range t.Deps {
		if tasks[d].Early > 0 {
			return true
		}
	}
	return false
}

func dependsOn(t Task, j int) bool {
	for _, d := range t.Deps {
		if d == j {
			return true
		}
	}
	return false
}

// groupKey is the key of task i's group (by Group and Small), and whether it has one.
func (c *core) groupKey(i int) ([2]int, bool) {
	t := c.tasks[i]
	if !c.grouping || t.Group <= 0 {
		return [2]int{}, false
	}
	small := 0
	if t.Small {
		small = 1
	}
	return [2]int{t.Group, small}, true
}

// push adds task i to the ready set: a task of a group that has a ready task already joins it.
func (c *core) push(i int) {
	if key, ok := c.groupKey(i); ok {
		if g := c.grouped[key]; len(g) > 0 {
			c.grouped[key] = append(g, i)
			return
		}
		c.grouped[key] = []int{i}
	}
	if c.tasks[i].Small {
		heap.Push(&c.readySmall, i)
	} else {
		heap.Push(&c.ready, i)
	}
}

// next is the task to start now, or -1: none is ready, every lane it may take is busy, or the run
// failed. Of the ready tasks that may start, the lowest Rank goes first, then the lowest index; a
// task that is not Small starts only while fewer than Jobs such tasks run.
func (c *core) next() int {
	if c.failed || c.running >= c.jobs+c.extra {
		return -1
	}
	best := -1
	if c.ready.Len() > 0 && c.big < c.jobs {
		best = c.ready.idx[0]
	}
	if c.readySmall.Len() > 0 && (best < 0 || c.ready.less(c.readySmall.idx[0], best)) {
		best = c.readySmall.idx[0]
	}
	return best
}

// members are the tasks that start with next's task i: i and the ready tasks of its group.
func (c *core) members(i int) []int {
	if key, ok := c.groupKey(i); ok && len(c.grouped[key]) > 1 {
		return slices.Clone(c.grouped[key])
	}
	return []int{i}
}

// start takes next's task i off the ready set, with the ready tasks of its group (members), all
// on one lane.
func (c *core) start(i int) {
	if c.tasks[i].Small {
		heap.Pop(&c.readySmall)
	} else {
		heap.Pop(&c.ready)
		c.big++
	}
	c.running++
	if key, ok := c.groupKey(i); ok {
		if g := c.grouped[key]; len(g) > 1 {
			for _, k := range g {
				c.lead[k] = i
			}
			c.left[i] = len(g)
		}
		delete(c.grouped, key)
	}
}

// release frees task i's lane, once the last task of its group (if any) finished.
func (c *core) release(i int) {
	if l, ok := c.lead[i]; ok {
		delete(c.lead, i)
		if c.left[l]--; c.left[l] > 0 {
			return
		}
		delete(c.left, l)
		i = l
	}
	c.running--
	if !c.tasks[i].Small {
		c.big--
	}
}

// progress tells how far the gate got: the early tasks whose Early it reached, and whose
// unconfirmed dependencies are all the gate or provisional, become ready. It returns the tasks made
// ready, and whether any early task is left to wait for progress.
func (c *core) progress(n int) (made []int, more bool) {
	for len(c.early) > 0 && c.tasks[c.early[0]].Early <= n {
		i := c.early[0]
		c.early = c.early[1:]
		c.armed[i] = true
		made = c.startEarly(i, made)
	}
	return made, len(c.early) > 0
}

// startEarly makes task i ready when it may start early now (also once the gate finished, while
// its confirmation is pending), and appends it to made.
func (c *core) startEarly(i int, made []int) []int {
	if c.armed[i] && !c.started[i] && c.waiting[i] > 0 && c.waiting[i] == c.prov[i] {
		c.started[i] = true
		c.push(i)
		made = append(made, i)
	}
	return made
}

// finish records that task i ended. It returns the tasks whose completion is to be confirmed now,
// together: i alone, none (i failed, or it started early and waits for the gate), or the gate with
// the early tasks that finished before it; and the tasks made ready by i's held completion (its
// dependents that may start early).
func (c *core) finish(i int, failed bool) (batch, made []int) {
	c.release(i)
	if failed {
		c.failed = true
		c.remaining--
		return nil, nil
	}
	switch {
	case c.started[i] && c.gate >= 0:
		c.held = append(c.held, i)
		c.provisional[i] = true
		for _, k := range c.dependents[i] {
			if c.tasks[k].Early > 0 {
				c.prov[k]++
				made = c.startEarly(k, made)
			}
		}
		return nil, made
	case i == c.gate:
		batch = append([]int{i}, c.held...)
		c.held, c.gate = nil, -1
	default:
		batch = []int{i}
	}
	c.unconfirm += len(batch)
	return batch, nil
}

// confirm records that the tasks' completion is durable and returns the dependents that became
// ready.
func (c *core) confirm(batch []int) (made []int) {
	c.unconfirm -= len(batch)
	for _, i := range batch {
		c.remaining--
		soft := c.provisional[i] || i == c.gateTask
		for _, k := range c.dependents[i] {
			if soft && c.tasks[k].Early > 0 {
				c.prov[k]--
			}
			if c.waiting[k]--; c.waiting[k] == 0 && !c.started[k] {
				c.push(k)
				made = append(made, k)
			} else {
				made = c.startEarly(k, made) // its other dependencies may all be provisional now
			}
		}
	}
	return made
}

// fail stops starting tasks: the run ends once the running ones have.
func (c *core) fail() { c.failed = true }

// done reports whether the run is over: every task confirmed, or failed with nothing running.
func (c *core) done() bool { return c.remaining == 0 || (c.failed && c.running == 0) }

// hurry reports whether one of the Jobs lanes is idle for want of a confirmation (the Extra lanes
// are idle whenever no small task is ready: no reason to write the state sooner).
func (c *core) hurry() bool {
	return !c.failed && c.running < c.jobs && c.next() < 0 && c.unconfirm > 0
}

// stuck reports a run that cannot go on: nothing can start, runs or waits for confirmation.
func (c *core) stuck() error {
	if c.done() || c.next() >= 0 || c.running > 0 || c.unconfirm > 0 {
		return nil
	}
	return &CycleError{N: c.remaining}
}

// readyHeap orders ready tasks by (Rank, index).
type readyHeap struct {
	tasks []Task
	idx   []int
}

func (h *readyHeap) Len() int           { return len(h.idx) }
func (h *readyHeap) Less(x, y int) bool { return h.less(h.idx[x], h.idx[y]) }

// less orders tasks a and b: lower Rank first, then lower index.
func (h *readyHeap) less(a, b int) bool {
	if h.tasks[a].Rank != h.tasks[b].Rank {
		return h.tasks[a].Rank < h.tasks[b].Rank
	}
	return a < b
}
func (h *readyHeap) Swap(x, y int) { h.idx[x], h.idx[y] = h.idx[y], h.idx[x] }
func (h *readyHeap) Push(x any)    { h.idx = append(h.idx, x.(int)) }
func (h *readyHeap) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}
