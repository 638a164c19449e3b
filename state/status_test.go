package state

import (
	"errors"
	"testing"
	"time"
)

// TestStatusTransitions: each transition sets the status with what goes with it, whatever the
// state said before.
func TestStatusTransitions(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	failedVal := []Validation{{ID: "pg_dump", Outcome: Failed}, {ID: "notes", Outcome: Warning}, {ID: "extensions", Outcome: Failed, Database: "app"}}
	type want struct {
		status     Status
		sub        string
		started    *time.Time
		finished   *time.Time
		err        string
		destroyed  time.Time
		validation int
	}
	applied := func(s *State) { s.Upsert(&Action{Address: "role.app", Status: ActionApplied}) }
	for _, tc := range []struct {
		name   string
		before func(*State)
		do     func(*State)
		want   want
	}{
		{"start fresh", nil, func(s *State) { s.Start(now) },
			want{status: StatusInProgress, sub: SubPrerequisites, started: &now}},
		{"start resumes a failed run: keeps its start, clears its end and error",
			func(s *State) { s.Status, s.StartedAt, s.FinishedAt, s.Error = StatusFailed, &t0, &t0, "boom" },
			func(s *State) { s.Start(now) },
			want{status: StatusInProgress, sub: SubPrerequisites, started: &t0}},
		{"start after success starts the clock again",
			func(s *State) { s.Status, s.StartedAt, s.FinishedAt = StatusSucceeded, &t0, &t0 },
			func(s *State) { s.Start(now) },
			want{status: StatusInProgress, sub: SubPrerequisites, started: &now}},
		{"start after a cancel starts the clock again (the cancel rolled the migration back)",
			func(s *State) { s.Status, s.StartedAt, s.FinishedAt = StatusCanceled, &t0, &t0 },
			func(s *State) { s.Start(now) },
			want{status: StatusInProgress, sub: SubPrerequisites, started: &now}},
		{"succeed", func(s *State) { s.Start(t0); s.Substatus = SubCompleting }, func(s *State) { s.Succeed(now) },
			want{status: StatusSucceeded, sub: SubCompleted, started: &t0, finished: &now}},
		{"fail keeps the phase", func(s *State) { s.Start(t0); s.Substatus = SubMigratingData }, func(s *State) { s.Fail(now, errors.New("copy failed")) },
			want{status: StatusFailed, sub: SubMigratingData, started: &t0, finished: &now, err: "copy failed"}},
		{"interrupt keeps the phase, no error", func(s *State) { s.Start(t0); s.Substatus = SubMigratingData; s.Error = "x" }, func(s *State) { s.Interrupt(now) },
			want{status: StatusInterrupted, sub: SubMigratingData, started: &t0, finished: &now}},
		{"validation failed before anything moved", nil, func(s *State) { s.ValidationFailed(now, failedVal) },
			want{status: StatusValidationFailed, sub: SubCompleted, started: &now, finished: &now, err: "2 validations failed", validation: 3}},
		{"validation failed again", func(s *State) { applied(s); s.Status = StatusValidationFailed }, func(s *State) { s.ValidationFailed(now, failedVal[:1]) },
			want{status: StatusValidationFailed, sub: SubCompleted, started: &now, finished: &now, err: "1 validation failed", validation: 1}},
		{"validation failed after data moved keeps the status",
			func(s *State) {
				applied(s)
				s.Status, s.Substatus, s.StartedAt, s.FinishedAt = StatusFailed, SubMigratingData, &t0, &t0
				s.Error = "boom"
			},
			func(s *State) { s.ValidationFailed(now, failedVal) },
			want{status: StatusFailed, sub: SubMigratingData, started: &t0, finished: &t0, err: "boom", validation: 3}},
		{"rolled back: as if never applied", func(s *State) { s.Start(t0); s.Fail(t0, errors.New("boom")) }, func(s *State) { s.RolledBack(now, nil) },
			want{status: "", started: &t0, finished: &t0, destroyed: now}},
		{"rollback incomplete", func(s *State) { s.Start(t0); s.Succeed(t0) }, func(s *State) {
			s.RolledBack(now, []string{"database.app: in use", "role.app: not attempted (interrupted)"})
		},
			want{status: StatusFailed, started: &t0, finished: &t0, destroyed: now, err: "rollback incomplete: database.app: in use; role.app: not attempted (interrupted)"}},
		{"canceled", func(s *State) { s.Start(t0); s.Interrupt(t0) }, func(s *State) { s.Cancel(now, nil) },
			want{status: StatusCanceled, started: &t0, finished: &now, destroyed: now}},
		{"canceled, rollback incomplete", func(s *State) { s.Start(t0) }, func(s *State) { s.Cancel(now, []string{"role.app: in use"}) },
			want{status: StatusCanceled, started: &t0, finished: &now, destroyed: now, err: "rollback incomplete: role.app: in use"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New("m")
			if tc.before != nil {
				tc.before(s)
			}
			tc.do(s)
			got := want{status: s.Status, sub: s.Substatus, started: s.StartedAt, finished: s.FinishedAt, err: s.Error, destroyed: s.DestroyedAt, validation: len(s.Validations)}
			if got.status != tc.want.status || got.sub != tc.want.sub || got.err != tc.want.err || got.validation != tc.want.validation ||
				!sameTime(got.started, tc.want.started) || !sameTime(got.finished, tc.want.finished) || !got.destroyed.Equal(tc.want.destroyed) {
				t.Errorf("got  %s\nwant %s", show(got.status, got.sub, got.started, got.finished, got.err, got.destroyed, got.validation),
					show(tc.want.status, tc.want.sub, tc.want.started, tc.want.finished, tc.want.err, tc.want.destroyed, tc.want.validation))
			}
		})
	}
}

func sameTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

func show(st Status, sub string, started, finished *time.Time, err string, destroyed time.Time, vals int) string {
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format("15:04")
	}
	return string(st) + " / " + sub + " / " + f(started) + "-" + f(finished) + " / " + err + " / destroyed " + f(&destroyed) + " / " + string(rune('0'+vals)) + " validations"
}

// TestDecodeCancelRequested: state files written when the state had a cancel_requested field
// still decode (the field is gone: cancel records its request beside the state).
func TestDecodeCancelRequested(t *testing.T) {
	s, err := decodeState("state file x", []byte(`{"format_version": 1, "lineage": "l", "serial": 3, "migration": "m", "status": "In progress", "cancel_requested": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Migration != "m" || s.Serial != 3 || s.Status != StatusInProgress {
		t.Errorf("decoded %+v", s)
	}
}
