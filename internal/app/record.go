package app

import (
	"context"
	"fmt"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// MigrationType is how the state and show name a migration from a source server of type srcType
// (config's server type), as Azure's migration service does.
func MigrationType(srcType string) string {
	switch srcType {
	case "on-premises":
		return "On-premises server to PostgreSQL"
	case "azure-vm":
		return "Azure VM to PostgreSQL"
	}
	return "PostgreSQL to PostgreSQL"
}

// RecordValidationFailed keeps the outcome of a refused apply (plan p failed its validations, or
// the servers could not be reached: UnreachablePlan) in the state, as the seed's service does:
// show and list then say "Validation failed" with the validations that failed. A migration that
// already moved data keeps its status; only its validations are updated (state.ValidationFailed).
func (s *Session) RecordValidationFailed(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan) error {
	st := snap.State
	if st == nil {
		st = state.New(s.Migration.Name)
		st.ToolVersion, st.MigrationMode, st.MigrationType = s.ToolVersion, "Offline", MigrationType(s.Migration.Source.Type)
		st.Source, st.Target, st.Databases, st.ConfigFingerprint = p.Source, p.Target, p.Databases, p.ConfigFingerprint
	}
	st.ValidationFailed(time.Now().UTC(), p.Validations)
	if err := s.Backend.Write(context.WithoutCancel(ctx), st); err != nil {
		return fmt.Errorf("saving the state: %w", err)
	}
	return nil
}

// Rollback is what a rollback (destroy, or cancel's) did, as RecordRollback recorded it.
type Rollback struct {
	// Failures are the steps that failed or did not run, one line each ("ADDRESS: cause"): what
	// they undo stays in the state, for the next destroy.
	Failures []string
	// Destroyed and Changed count the steps that dropped an object and that put one back as it was.
	Destroyed, Changed int
}

// RecordRollback writes the state after a rollback of plan dp with results: the undone changes
// leave it (apply.RecordDestroy), the status says whether all was undone (state.RolledBack, or
// state.Cancel for cancel), and the baseline is what is left (nothing, or what destroy could not
// undo, read again). When nothing is left, a cancel request beside the state is cleared. The
// error is the state write's.
func (s *Session) RecordRollback(ctx context.Context, st *state.State, dp *plan.DestroyPlan, results []apply.StepResult, cancel bool) (Rollback, error) {
	var r Rollback
	failed := apply.RecordDestroy(st, dp, results)
	now := time.Now().UTC()
	for _, f := range failed {
		if f.Err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %v", f.Step.Address, f.Err))
		} else {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: not attempted (interrupted)", f.Step.Address))
		}
	}
	if cancel {
		st.Cancel(now, r.Failures)
	} else {
		st.RolledBack(now, r.Failures) // without failures, as if never applied: plan and apply start from scratch
	}
	st.Baseline = nil // nothing the migration left remains
	if len(failed) > 0 {
		// What is left is what destroy could not undo, and destroy itself changed the target (a
		// revoked membership, a dropped database): the next destroy compares with what is left now.
		if b, err := apply.RecordBaseline(ctx, s.Migration.Target, st); err == nil {
			st.Baseline = b
		}
	}
	werr := s.Backend.Write(context.WithoutCancel(ctx), st)
	if werr != nil {
		werr = fmt.Errorf("saving the state after the rollback: %w", werr)
	}
	if len(failed) == 0 {
		if cb, ok := s.Backend.(state.Canceler); ok {
			cb.ClearCancel(context.WithoutCancel(ctx), s.Migration.Name)
		}
	}
	for _, res := range results {
		if res.Ran && res.Err == nil {
			if res.Step.Kind == plan.Delete {
				r.Destroyed++
			} else {
				r.Changed++
			}
		}
	}
	return r, werr
}
