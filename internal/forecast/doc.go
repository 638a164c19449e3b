// Package forecast predicts how long apply will take (SPEC §7): each plan action's duration is
// estimated from a basis, and the plan is replayed through the scheduler apply uses
// (internal/sched.Simulate over apply.GraphTasks), so overlap, priorities, lanes and the critical
// path come out as they will in the run.
//
// Two bases make an Estimate:
//   - rehearsal (rehearsal.go): the latest successful apply of this migration, each action's
//     measured duration scaled by the change in its size and in jobs;
//   - model (model.go, probe.go): without a rehearsal, a model of these servers measured at plan
//     time, cheaply and safely (a sample COPY into a temporary table on the target, an index build
//     on it, each connection's round trip), priced per action.
//
// Make turns an Estimate into the forecast a plan carries (state.Forecast): expected wall time,
// range, basis and critical path.
package forecast
