package state

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	s := New("prod-to-flex")
	if s.FormatVersion != FormatVersion || s.Migration != "prod-to-flex" || s.Serial != 0 || s.Status != "" {
		t.Fatalf("New: %+v", s)
	}
	if len(s.Lineage) != 36 {
		t.Fatalf("lineage %q is not a UUID", s.Lineage)
	}
	if New("x").Lineage == s.Lineage {
		t.Fatal("two states share a lineage")
	}
}

func TestActionUpsert(t *testing.T) {
	s := New("m")
	if s.Action("role.app") != nil {
		t.Fatal("found an action in an empty state")
	}
	s.Upsert(&Action{Address: "role.app", Status: ActionPending})
	s.Upsert(&Action{Address: "database.app", Status: ActionPending})
	s.Upsert(&Action{Address: "role.app", Status: ActionApplied})
	if len(s.Actions) != 2 || s.Actions[0].Address != "role.app" || s.Actions[1].Address != "database.app" {
		t.Fatalf("actions out of order or duplicated: %+v", s.Actions)
	}
	a := s.Action("role.app")
	if a == nil || a.Status != ActionApplied {
		t.Fatalf("Action(role.app) = %+v", a)
	}
	a.Status = ActionTainted
	if s.Actions[0].Status != ActionTainted {
		t.Fatal("Action does not return the stored pointer")
	}
	var nilState *State
	if nilState.Action("x") != nil {
		t.Fatal("nil state has actions")
	}
}

func TestClone(t *testing.T) {
	now := time.Now()
	s := New("m")
	s.StartedAt = &now
	s.Databases = []string{"app"}
	s.Validations = []Validation{{ID: "v", Objects: []string{"t1"}}}
	s.Actions = []*Action{{Address: "a", StartedAt: &now}}
	s.Created = []Change{{Type: "role", Name: "r", At: now}}
	s.Baseline = &Baseline{At: now, Databases: map[string]*DatabaseBaseline{"app": {Tables: map[string][4]int64{"t": {1, 2, 3, 4}}}},
		Roles: map[string]*RoleBaseline{"r": {Attributes: "a"}}}

	c := s.Clone()
	if !reflect.DeepEqual(s, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", s, c)
	}
	later := now.Add(time.Hour)
	*c.StartedAt = later
	c.Databases[0] = "x"
	c.Validations[0].Objects[0] = "x"
	c.Actions[0].Status = "x"
	*c.Actions[0].StartedAt = later
	c.Created[0].Name = "x"
	c.Baseline.Databases["app"].Tables["t"] = [4]int64{}
	c.Baseline.Roles["r"].Attributes = "x"
	if s.Baseline.Databases["app"].Tables["t"][0] != 1 || s.Baseline.Roles["r"].Attributes != "a" {
		t.Fatalf("changing the clone's baseline changed the original")
	}
	if !s.StartedAt.Equal(now) || s.Databases[0] != "app" || s.Validations[0].Objects[0] != "t1" ||
		s.Actions[0].Status != "" || !s.Actions[0].StartedAt.Equal(now) || s.Created[0].Name != "r" {
		t.Fatalf("changing the clone changed the original: %+v", s)
	}
	if (*State)(nil).Clone() != nil {
		t.Fatal("nil clone")
	}
}

func TestCheckMigrationName(t *testing.T) {
	for name, ok := range map[string]bool{
		"prod-to-flex": true, "a": true, "A1-b_c.d": true,
		"": false, "-x": false, ".x": false, "..": false, "a/b": false, "a\\b": false, "a b": false,
		strings.Repeat("a", 201): false,
	} {
		if err := checkMigrationName(name); (err == nil) != ok {
			t.Errorf("checkMigrationName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, "", t.TempDir()+"/st", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*Local); !ok {
		t.Fatalf("Open(\"\") = %T, want *Local", b)
	}
	if _, err := Open(ctx, "s3", "", "", ""); err == nil || !strings.Contains(err.Error(), `"s3"`) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := Open(ctx, "pg", "", "", ""); err == nil || !strings.Contains(err.Error(), "conn_str") {
		t.Fatalf("pg without conn_str: %v", err)
	}
}

func TestLockedErrorMessage(t *testing.T) {
	e := &LockedError{Migration: "m", Info: LockInfo{
		ID: "4f1c", Path: "/x/state.json", Operation: "apply", Who: "ann@ci-7", Version: "0.3.0",
		Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}}
	msg := e.Error()
	for _, want := range []string{"Lock Info:", "ID:        4f1c", "Path:      /x/state.json", "Operation: apply",
		"Who:       ann@ci-7", "Version:   0.3.0", "Created:   2025-01-02 03:04:05.000 UTC", "--lock-timeout",
		"pgferry force-unlock 4f1c"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if !errors.Is(e, ErrLocked) {
		t.Error("errors.Is(LockedError, ErrLocked) is false")
	}
	var le *LockedError
	if !errors.As(error(e), &le) {
		t.Error("errors.As failed")
	}
}

func TestActionIndex(t *testing.T) {
	s := New("m")
	for i := 0; i < 100; i++ {
		s.Upsert(&Action{Address: fmt.Sprint("a", i), Rows: int64(i)})
	}
	if got := s.Action("a42"); got == nil || got.Rows != 42 {
		t.Fatalf("Action(a42) = %+v", got)
	}
	s.Upsert(&Action{Address: "a42", Rows: 420})
	if len(s.Actions) != 100 || s.Action("a42").Rows != 420 || s.Actions[42].Rows != 420 {
		t.Fatalf("Upsert did not replace in place: %d actions, a42 %+v", len(s.Actions), s.Action("a42"))
	}
	// Actions appended or reordered behind the index's back are still found.
	s.Actions = append(s.Actions, &Action{Address: "late"})
	s.Actions[0], s.Actions[99] = s.Actions[99], s.Actions[0]
	if s.Action("late") == nil || s.Action("a99") != s.Actions[0] || s.Action("a0") != s.Actions[99] {
		t.Fatal("stale index not rebuilt")
	}
	s.Actions = s.Actions[:10]
	if s.Action("a50") != nil || s.Action("a5") == nil {
		t.Fatal("truncated Actions: lookup wrong")
	}
	if s.Action("missing") != nil {
		t.Fatal("found a missing action")
	}
}

// TestAsInterrupted: a dead apply's state is shown Interrupted, stopped at its last write, with
// its running actions interrupted then and durations that no longer grow.
func TestAsInterrupted(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	st := &State{
		Migration: "m", Status: StatusInProgress, Substatus: SubMigratingData,
		StartedAt: at(0), UpdatedAt: at(20 * time.Second),
		Actions: []*Action{
			{Address: "database.app", Status: ActionApplied, StartedAt: at(time.Second), FinishedAt: at(2 * time.Second), DurationMS: 1000},
			{Address: `database.app.table["public"."big"]`, Status: ActionRunning, StartedAt: at(4 * time.Second)},
			{Address: "database.app.analyze", Status: ActionPending},
		},
	}
	if !st.Dead(false) || st.Dead(true) {
		t.Fatalf("Dead(false) = %t, Dead(true) = %t; want true, false", st.Dead(false), st.Dead(true))
	}
	done := &State{Status: StatusSucceeded}
	if done.Dead(false) {
		t.Fatal("a finished run is not dead")
	}
	got := st.AsInterrupted()
	if got.Status != StatusInterrupted || got.Substatus != SubMigratingData {
		t.Errorf("status %q / %q", got.Status, got.Substatus)
	}
	if got.FinishedAt == nil || !got.FinishedAt.Equal(*st.UpdatedAt) {
		t.Errorf("finished at %v, want the last write %v", got.FinishedAt, st.UpdatedAt)
	}
	want := map[string]ActionStatus{"database.app": ActionApplied, `database.app.table["public"."big"]`: ActionInterrupted, "database.app.analyze": ActionPending}
	for _, a := range got.Actions {
		if a.Status != want[a.Address] {
			t.Errorf("%s: %s, want %s", a.Address, a.Status, want[a.Address])
		}
	}
	if big := got.Actions[1]; big.DurationMS != 16000 || big.FinishedAt == nil || !big.FinishedAt.Equal(*st.UpdatedAt) {
		t.Errorf("interrupted table: %d ms, finished %v; want 16000 ms at the last write", big.DurationMS, big.FinishedAt)
	}
	if st.Status != StatusInProgress || st.Actions[1].Status != ActionRunning {
		t.Error("AsInterrupted changed the state it was given")
	}
}
