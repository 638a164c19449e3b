package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/state"
)

// stateTestConfig is a configuration that needs no server: show, list and force-unlock only
// read the state backend.
const stateTestConfig = `
source "onprem" {
  host    = "10.0.0.1"
  user    = "postgres"
  sslmode = "disable"
  type    = "on-premises"
}

target "flex" {
  host    = "10.0.0.2"
  user    = "postgres"
  sslmode = "disable"
}

migration "sample" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
`

func stateTestDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(stateTestConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestForceUnlock(t *testing.T) {
	ctx := context.Background()
	tests := map[string]struct {
		lock     bool
		dead     bool   // the holder is gone, its lock info left behind (as after kill -9)
		id       string // "" means the held lock's ID
		force    bool
		wantCode int
		wantOut  string
		wantErr  string
		released bool // the lock can be taken afterwards
	}{
		"dead holder's lock, --force": {lock: true, dead: true, force: true, wantCode: 0,
			wantOut: "pgferry state has been successfully unlocked!", released: true},
		// A lock whose process runs is not stuck: refused, with what to do, and kept.
		"live holder's lock, --force": {lock: true, force: true, wantCode: 1,
			wantErr: `lock HELD of migration "sample" is held by a running pgferry apply`},
		"unknown id names the held lock": {lock: true, id: "not-the-id", force: true, wantCode: 1,
			wantErr: `lock ID "not-the-id" does not match the lock of migration "sample", whose ID is HELD`},
		"no lock": {id: "some-id", force: true, wantCode: 1, wantErr: "it is not locked", released: true},
		// Without a terminal there is nobody to ask: the matching lock ID is the confirmation.
		"no terminal without --force": {lock: true, dead: true, wantCode: 0,
			wantOut: "pgferry state has been successfully unlocked!", released: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := stateTestDir(t)
			backend, err := state.NewLocal(filepath.Join(dir, ".pgferry"))
			if err != nil {
				t.Fatal(err)
			}
			held := ""
			if tc.lock {
				info := state.NewLockInfo("apply", "test")
				unlock, err := backend.Lock(ctx, "sample", info, 0)
				if err != nil {
					t.Fatal(err)
				}
				if tc.dead {
					leaveDeadLock(t, dir, unlock)
				} else {
					defer unlock()
				}
				held = info.ID
			}
			id := tc.id
			if id == "" {
				id = held
			}
			args := []string{"--chdir", dir, "force-unlock", id}
			if tc.force {
				args = append(args, "--force")
			}
			code, stdout, stderr := runCLI(t, "", args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			if tc.wantOut != "" && !strings.Contains(stdout, tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, stdout)
			}
			if want := strings.ReplaceAll(tc.wantErr, "HELD", held); want != "" && !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
			unlock, err := backend.Lock(ctx, "sample", state.NewLockInfo("apply", "test"), 0)
			if tc.released != (err == nil) {
				t.Fatalf("taking the lock again: %v (want released=%v)", err, tc.released)
			}
			if err == nil {
				unlock()
			}
		})
	}
}

// leaveDeadLock releases a lock taken in dir and puts its lock info back: what a holder killed
// with -9 leaves (the kernel frees its flock, nobody removes lock.info), which force-unlock removes.
func leaveDeadLock(t *testing.T, dir string, unlock func() error) {
	t.Helper()
	path := filepath.Join(dir, ".pgferry", "sample", "lock.info")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestForceUnlockPrompt checks the confirmation: only "yes" unlocks.
func TestForceUnlockPrompt(t *testing.T) {
	ctx := context.Background()
	for _, answer := range []string{"no\n", "yes\n"} {
		dir := stateTestDir(t)
		backend, err := state.NewLocal(filepath.Join(dir, ".pgferry"))
		if err != nil {
			t.Fatal(err)
		}
		info := state.NewLockInfo("apply", "test")
		unlock, err := backend.Lock(ctx, "sample", info, 0)
		if err != nil {
			t.Fatal(err)
		}
		leaveDeadLock(t, dir, unlock)
		var stdout, stderr bytes.Buffer
		t.Chdir(dir)
		c := &cli{stdin: strings.NewReader(answer), stdout: &stdout, stderr: &stderr, isTTYIn: true}
		code := c.call(cmdForceUnlock, []string{info.ID})
		if !strings.Contains(stdout.String(), "Do you really want to force-unlock?") {
			t.Errorf("%q: no prompt:\n%s", answer, stdout.String())
		}
		switch answer {
		case "yes\n":
			if code != 0 || !strings.Contains(stdout.String(), "successfully unlocked") {
				t.Errorf("yes: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
		default:
			if code != 1 || !strings.Contains(stderr.String(), "force-unlock cancelled") {
				t.Errorf("no: exit %d\nstderr:\n%s", code, stderr.String())
			}
		}
	}
}

// TestShowAndListFromState renders a state written by hand, with a running and a failed action.
func TestShowAndListFromState(t *testing.T) {
	ctx := context.Background()
	dir := stateTestDir(t)

	code, stdout, stderr := runCLI(t, "", "--chdir", dir, "show")
	if code != 0 || !strings.Contains(stdout, `Migration "sample" has not been applied yet`) {
		t.Fatalf("show without state: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "", "--chdir", dir, "show", "--json")
	var empty map[string]string
	if err := json.Unmarshal([]byte(stdout), &empty); code != 0 || err != nil || empty["status"] != "Not started" || empty["migration"] != "sample" {
		t.Fatalf("show --json without state: exit %d, %v\n%s", code, err, stdout)
	}
	code, stdout, _ = runCLI(t, "", "--chdir", dir, "list", "--json")
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("list --json without state: exit %d\n%s", code, stdout)
	}

	backend, err := state.NewLocal(filepath.Join(dir, ".pgferry"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := start.Add(d); return &t }
	st := state.New("sample")
	st.Status, st.Substatus = state.StatusInProgress, state.SubMigratingData
	st.MigrationMode, st.MigrationType = "Offline", "On-premises server to PostgreSQL"
	st.Source = state.Identity{Name: "onprem", Host: "10.0.0.1", Port: 5432, Type: "on-premises", Version: "15.4"}
	st.Target = state.Identity{Name: "flex", Host: "10.0.0.2", Port: 5432, Version: "16.2"}
	st.Databases = []string{"app"}
	st.StartedAt = at(0)
	st.Validations = []state.Validation{
		{ID: "connectivity", Level: "instance", Outcome: "Succeeded", Message: "both servers answer"},
		{ID: "extensions", Level: "database", Database: "app", Outcome: "Warning", Message: "check pgcrypto"},
	}
	st.Actions = []*state.Action{
		{Address: "role.app_owner", Kind: "+", Status: state.ActionApplied, DurationMS: 5, Attempt: 1},
		{Address: "database.app", Kind: "+", Database: "app", Status: state.ActionApplied, DurationMS: 40, Attempt: 1},
		{Address: `database.app.table["public"."orders"]`, Kind: "+", Database: "app", Status: state.ActionApplied,
			Rows: 12345, Bytes: 3 << 20, DurationMS: 4200, Attempt: 1, StartedAt: at(time.Second), FinishedAt: at(5200 * time.Millisecond)},
		{Address: `database.app.table["public"."items"]`, Kind: "+", Database: "app", Status: state.ActionFailed,
			Error: "connection reset", Attempt: 2},
		{Address: `database.app.index["public"."orders_pkey"]`, Kind: "+", Database: "app", Status: state.ActionRunning,
			StartedAt: at(6 * time.Second), Attempt: 1},
		{Address: "database.app.analyze", Kind: "+", Database: "app", Status: state.ActionPending},
	}
	if err := backend.Write(ctx, st); err != nil {
		t.Fatal(err)
	}
	// A live apply holds the lock: In progress, as recorded.
	unlock, err := backend.Lock(ctx, "sample", state.NewLockInfo("apply", "test"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	code, stdout, stderr = runCLI(t, "", "--chdir", dir, "show")
	if code != 0 {
		t.Fatalf("show: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"Migration name:  sample", "Status:          In progress", "Substatus:       Migrating data",
		"Migration mode:  Offline", "Source server:   onprem 10.0.0.1:5432, PostgreSQL 15.4, on-premises",
		"Start time:      2025-03-01 10:00:00 UTC", "End time:        -",
		"Validations:", `database "app"`, "Instance (roles and memberships):", "Actions (1): 1 applied",
		`Database "app":`, "Tables (2):", `database.app.table["public"."orders"]  applied  12.3k  3.0 MiB  4.2s`,
		"Other actions (3): 1 applied, 1 running, 1 pending",
		`running now: database.app.index["public"."orders_pkey"]`,
		`failed database.app.table["public"."items"]: connection reset`,
		"Slowest tables:",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runCLI(t, "", "--chdir", dir, "show", "--json")
	var doc views.ShowDoc
	if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil {
		t.Fatalf("show --json: exit %d, %v\n%s", code, err, stdout)
	}
	if doc.FormatVersion != "1.0" || doc.Status != "In progress" || doc.Mode != "Offline" || len(doc.Actions) != 6 ||
		doc.Actions[2].Type != "table" || doc.Actions[2].Rows != 12345 || doc.Actions[2].DurationMS != 4200 || doc.Actions[3].Attempt != 2 ||
		doc.DurationSeconds == nil || len(doc.Validations) != 2 {
		t.Errorf("show --json: %+v", doc)
	}

	// A second, older and finished migration: list shows the newest start first.
	old := state.New("older")
	old.Status, old.Substatus, old.MigrationMode = state.StatusSucceeded, state.SubCompleted, "Offline"
	old.StartedAt, old.FinishedAt = at(-2*time.Hour), at(-2*time.Hour+90*time.Second)
	if err := backend.Write(ctx, old); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "", "--chdir", dir, "list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("list: exit %d\n%s", code, stdout)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "Name Status Migration mode Migration type Source server Source server type Target server Databases Duration Start time (UTC)" {
		t.Errorf("list header: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "sample ") || !strings.HasPrefix(lines[2], "older ") || !strings.Contains(lines[2], "1m30s") {
		t.Errorf("list rows:\n%s", stdout)
	}
	code, stdout, _ = runCLI(t, "", "--chdir", dir, "list", "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); code != 0 || err != nil || len(rows) != 2 {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, stdout)
	}
	for _, k := range []string{"name", "status", "substatus", "migration_mode", "migration_type", "source_server",
		"source_server_type", "databases", "duration", "start_time"} {
		if _, ok := rows[0][k]; !ok {
			t.Errorf("list --json lacks %q: %v", k, rows[0])
		}
	}
	if rows[0]["name"] != "sample" || rows[0]["source_server"] != "onprem (10.0.0.1:5432)" || rows[1]["duration"] != "1m30s" {
		t.Errorf("list --json: %v", rows)
	}
	if rows[0]["status"] != string(state.StatusInProgress) {
		t.Errorf("list --json while the apply holds the lock: %v", rows[0])
	}

	// The apply's process dies (the lock is free, the state still says In progress): show and
	// list say Interrupted, stopped at the last state write, and nothing counts on.
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	written, err := backend.Read(ctx, "sample")
	if err != nil {
		t.Fatal(err)
	}
	stopped := views.FormatTime(written.UpdatedAt)
	code, stdout, stderr = runCLI(t, "", "--chdir", dir, "show")
	if code != 0 {
		t.Fatalf("show: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"Status:          Interrupted", "Substatus:       Migrating data", "End time:        " + stopped,
		"The apply stopped before it finished", "Other actions (3): 1 applied, 1 interrupted, 1 pending",
		`interrupted: database.app.index["public"."orders_pkey"] (after `,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("show of a dead apply lacks %q:\n%s", want, stdout)
		}
	}
	for _, not := range []string{"In progress", "so far", "running"} {
		if strings.Contains(stdout, not) {
			t.Errorf("show of a dead apply says %q:\n%s", not, stdout)
		}
	}
	var docs [2]views.ShowDoc
	var lists [2]string
	for i := range docs {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		code, stdout, _ = runCLI(t, "", "--chdir", dir, "show", "--json")
		if err := json.Unmarshal([]byte(stdout), &docs[i]); code != 0 || err != nil {
			t.Fatalf("show --json: exit %d, %v\n%s", code, err, stdout)
		}
		code, lists[i], _ = runCLI(t, "", "--chdir", dir, "list", "--json")
		if code != 0 {
			t.Fatalf("list --json: exit %d", code)
		}
	}
	d := docs[0]
	if d.Status != string(state.StatusInterrupted) || d.FinishedAt == nil || !d.FinishedAt.Equal(*written.UpdatedAt) ||
		d.DurationSeconds == nil || *d.DurationSeconds != *docs[1].DurationSeconds ||
		d.Actions[4].Status != state.ActionInterrupted || d.Actions[4].DurationMS != docs[1].Actions[4].DurationMS {
		t.Errorf("show --json of a dead apply (then again later): %+v\n%+v", d, docs[1])
	}
	if lists[0] != lists[1] || !strings.Contains(lists[0], `"status": "Interrupted"`) {
		t.Errorf("list --json of a dead apply, then again later:\n%s\n%s", lists[0], lists[1])
	}
	// Reading took nothing: the state is unchanged and the lock can be taken.
	if again, _ := backend.Read(ctx, "sample"); again.Serial != written.Serial || again.Status != state.StatusInProgress {
		t.Errorf("show and list changed the state: serial %d → %d, status %q", written.Serial, again.Serial, again.Status)
	}
}
