package apply

import (
	"context"
	"testing"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// A running copy's bytes reach the saved state (for show in another terminal) at most every
// ProgressSaveEvery, with the plan's estimates beside them; a new attempt starts from zero.
func TestRecordProgressSaved(t *testing.T) {
	ctx := context.Background()
	be, err := state.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &plan.Action{Address: `database.app.table["public"."big"]`, Type: plan.TypeTable, Kind: plan.Create, Database: "app",
		RowsEstimate: 1_000_000, BytesEstimate: 100 << 20}
	st := state.New("m")
	r := &Runner{opt: Options{Backend: be, State: st}}
	r.markBegin(a, 0)
	saved := func() *state.Action {
		t.Helper()
		s, err := be.Read(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		return s.Action(a.Address)
	}
	r.recordProgress(ctx, a, 0, 10<<20)
	if sa := saved(); sa == nil || sa.Bytes != 10<<20 || sa.BytesEstimate != 100<<20 || sa.RowsEstimate != 1_000_000 || sa.Status != state.ActionRunning {
		t.Fatalf("first progress not saved: %+v", sa)
	}
	// Within ProgressSaveEvery: kept in memory, not written.
	r.recordProgress(ctx, a, 0, 20<<20)
	if sa := saved(); sa.Bytes != 10<<20 {
		t.Fatalf("saved again at once: %+v", sa)
	}
	if r.opt.State.Action(a.Address).Bytes != 20<<20 {
		t.Fatal("progress not kept in memory")
	}
	r.mu.Lock()
	r.progressSaved = time.Now().Add(-ProgressSaveEvery)
	r.mu.Unlock()
	r.recordProgress(ctx, a, 0, 30<<20)
	if sa := saved(); sa.Bytes != 30<<20 {
		t.Fatalf("not saved after ProgressSaveEvery: %+v", sa)
	}
	// A retry starts again from nothing.
	r.markBegin(a, 0)
	if sa := r.opt.State.Action(a.Address); sa.Bytes != 0 || sa.Attempt != 2 {
		t.Fatalf("retry kept the earlier attempt's bytes: %+v", sa)
	}
	// A finished action is not touched by a late progress report.
	r.opt.State.Action(a.Address).Status = state.ActionApplied
	r.recordProgress(ctx, a, 0, 99<<20)
	if sa := r.opt.State.Action(a.Address); sa.Bytes != 0 {
		t.Fatalf("late progress recorded: %+v", sa)
	}
}
