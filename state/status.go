package state

import (
	"fmt"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/english"
)

// The migration's status is written only by the methods below: each sets Status with what goes
// with it (Substatus, StartedAt, FinishedAt, Error), so that show, list and the next apply read one
// consistent story whichever command wrote it. AsInterrupted derives a dead apply's, on a copy.

// Start records that an apply begins at now: In progress, performing prerequisite steps, with no
// error. A resumed run keeps the StartedAt of the run it resumes; a migration that finished
// (Succeeded) or never ran starts its clock again.
func (s *State) Start(now time.Time) {
	// A new migration starts the clock again: after a success, a rollback (destroy: no status) or a
	// cancel (rolled back); a failed or interrupted one resumes and keeps its start.
	if s.StartedAt == nil || s.Status == StatusSucceeded || s.Status == "" || s.Status == StatusCanceled {
		s.StartedAt = &now
	}
	s.FinishedAt = nil
	s.Status, s.Substatus, s.Error = StatusInProgress, SubPrerequisites, ""
}

// Succeed records that the apply finished at now with every action applied.
func (s *State) Succeed(now time.Time) {
	s.FinishedAt = &now
	s.Status, s.Substatus = StatusSucceeded, SubCompleted
}

// Fail records that the apply stopped at now because of err; Substatus keeps the phase it failed in.
func (s *State) Fail(now time.Time, err error) {
	s.FinishedAt = &now
	s.Status, s.Error = StatusFailed, err.Error()
}

// Interrupt records that the apply was stopped at now (Ctrl-C, SIGTERM, pgferry cancel) without
// failing; Substatus keeps the phase it stopped in.
func (s *State) Interrupt(now time.Time) {
	s.FinishedAt = &now
	s.Status, s.Error = StatusInterrupted, ""
}

// ValidationFailed records that an apply was refused at now because validations failed: they
// replace the state's validations. A migration that has not moved anything (no actions), or whose
// last apply was refused too, becomes Validation failed; one that already moved data keeps its
// status, which says what is on the target.
func (s *State) ValidationFailed(now time.Time, vals []Validation) {
	s.Validations = vals
	if len(s.Actions) > 0 && s.Status != StatusValidationFailed {
		return
	}
	failed := 0
	for _, v := range vals {
		if v.Outcome == Failed {
			failed++
		}
	}
	s.Status, s.Substatus, s.StartedAt, s.FinishedAt = StatusValidationFailed, SubCompleted, &now, &now
	s.Error = fmt.Sprintf("%s failed", english.Count(failed, "validation"))
}

// RolledBack records that destroy rolled the migration back at now. Without failures the
// migration is as if never applied (no status), so plan and apply start from scratch; failures
// (one line per step that failed or did not run) leave it Failed, saying what is left to undo.
func (s *State) RolledBack(now time.Time, failures []string) {
	s.rolledBack(now, failures)
	s.Status = ""
	if len(failures) > 0 {
		s.Status = StatusFailed
	}
}

// Cancel records that pgferry cancel stopped the migration and rolled it back at now: Canceled,
// finished then, with what the rollback could not undo (failures) as its error.
func (s *State) Cancel(now time.Time, failures []string) {
	s.rolledBack(now, failures)
	s.Status, s.FinishedAt = StatusCanceled, &now
}

func (s *State) rolledBack(now time.Time, failures []string) {
	s.DestroyedAt = now
	s.Substatus, s.Error = "", ""
	if len(failures) > 0 {
		s.Error = "rollback incomplete: " + strings.Join(failures, "; ")
	}
}
