package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// TestCancelRunningAsks checks that cancel, with an apply running, shows what the rollback
// removes and asks first: no terminal (without --auto-approve) or an answer other than "yes"
// leaves the apply running, with no cancel request recorded; "yes" records the request.
func TestCancelRunningAsks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, answer string
		tty          bool
		wantCode     int
		wantOut      []string
		wantErr      string
		requested    bool
	}{
		{name: "no terminal", wantCode: 1, wantErr: "no terminal to ask for approval: pass --auto-approve to stop the running apply of migration \"sample\" and roll back without confirmation; the apply keeps running and nothing was changed"},
		{name: "answer no", tty: true, answer: "no\n", wantCode: 1, wantOut: []string{
			`An apply of migration "sample" is running`,
			"# database.app will be destroyed",
			"# role.app_owner will be destroyed",
			"Do you really want to cancel the running apply and destroy all resources?",
			"There is no undo. Only 'yes' will be accepted to confirm.",
			"Cancel cancelled: the apply keeps running.",
		}},
		{name: "answer yes", tty: true, answer: "yes\n", wantCode: 1, requested: true,
			wantOut: []string{"Cancel requested: waiting for the running apply"}, wantErr: "has not stopped within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := stateTestDir(t)
			backend, err := state.NewLocal(filepath.Join(dir, ".pgferry"))
			if err != nil {
				t.Fatal(err)
			}
			st := state.New("sample")
			st.Status = state.StatusInProgress
			st.Created = []state.Change{
				{Type: plan.ChangeRole, Name: "app_owner", Op: plan.OpCreated},
				{Type: plan.ChangeDatabase, Name: "app", Op: plan.OpCreated},
			}
			if err := backend.Write(ctx, st); err != nil {
				t.Fatal(err)
			}
			unlock, err := backend.Lock(ctx, "sample", state.NewLockInfo("apply", "test"), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			var stdout, stderr bytes.Buffer
			t.Chdir(dir)
			c := &cli{stdin: strings.NewReader(tc.answer), stdout: &stdout, stderr: &stderr, isTTYIn: tc.tty}
			code := c.call(cmdCancel, []string{"--wait", "1s"})
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if tc.wantErr != "" && !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr.String())
			}
			req, err := backend.CancelRequest(ctx, "sample")
			if err != nil {
				t.Fatal(err)
			}
			if (req != nil) != tc.requested {
				t.Errorf("cancel request recorded: %+v, want %v", req, tc.requested)
			}
		})
	}
}

// TestRollbackNoRecord checks the rule for a state that says Succeeded but holds no record of
// what apply left: destroy and cancel refuse without --force, before connecting to the target.
func TestRollbackNoRecord(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"destroy", "--auto-approve"}, {"cancel", "--auto-approve"}} {
		dir := stateTestDir(t)
		backend, err := state.NewLocal(filepath.Join(dir, ".pgferry"))
		if err != nil {
			t.Fatal(err)
		}
		st := state.New("sample")
		st.Status = state.StatusSucceeded
		st.Created = []state.Change{{Type: plan.ChangeDatabase, Name: "app", Op: plan.OpCreated}}
		if err := backend.Write(ctx, st); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		code, stdout, stderr := runCLI(t, "", args...)
		if code != 1 || !strings.Contains(stderr, args[0]+" refused: pgferry cannot tell whether the target was changed since apply finished:") ||
			!strings.Contains(stderr, "pgferry cannot tell whether the target was used since") ||
			!strings.Contains(stderr, "pgferry "+args[0]+" --force") {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
		got, err := backend.Read(ctx, "sample")
		if err != nil || len(got.Created) != 1 || got.Status != state.StatusSucceeded {
			t.Errorf("%v: the state changed: %+v, %v", args, got, err)
		}
	}
}
