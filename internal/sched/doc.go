// Package sched runs a graph of tasks in dependency order on a fixed number of lanes (parallel
// workers), and replays the same graph on a virtual clock to forecast its timeline.
//
// It owns the ordering rules and nothing else: which tasks are ready (their dependencies are
// confirmed), which ready task goes first (lowest Rank, then lowest index: the plan's order), how
// many run at once (Jobs), which tasks may start before their gate task finished (early starts,
// gated by the gate's progress, their completion held until the gate's; a task may start early on
// early tasks that finished, so early starts chain), when a finished task
// releases its dependents (once its completion is confirmed durable, see Confirmer), that the
// first error cancels the rest, which ready tasks of one Group Run hands to one lane together (Simulate
// runs them one by one), and that a graph which can never finish is a dependency cycle.
//
// Run drives those rules with goroutines and real work; Simulate drives the very same rules (one
// core type, see core.go) with predicted durations on a virtual clock, without goroutines or
// sleeping, and returns each task's start, end and lane and the critical path. Neither knows about
// PostgreSQL: the apply engine supplies the work and the durability (apply/graph.go, flush.go).
package sched
