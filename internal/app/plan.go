package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgferry/pgferry/checks"
	"github.com/pgferry/pgferry/internal/forecast"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/plan/planfile"
	"github.com/pgferry/pgferry/state"
)

// Plan runs the validations on snap and builds the plan, stamped with where and how it was made,
// with the digests and fingerprints of both catalogs (which a saved plan is checked against:
// planfile.Stale) and the configuration's non-sensitive variables.
func (s *Session) Plan(snap *snapshot.Snapshot) (*plan.Plan, error) {
	p, err := plan.Build(plan.Input{Snapshot: snap, Validations: checks.Run(snap)})
	if err != nil {
		return nil, err
	}
	s.stamp(snap, p)
	p.SourceDigest, p.TargetDigest = planfile.Digest(snap.Source, snap.SourceDBs, snap.Databases), planfile.Digest(snap.Target, snap.TargetDBs, snap.Databases)
	p.SourceFingerprint, p.TargetFingerprint = planfile.Fingerprint(p.SourceDigest), planfile.Fingerprint(p.TargetDigest)
	p.Variables = s.Config.NonSensitiveVars()
	return p, nil
}

// UnreachablePlan is the plan of a migration whose servers could not all be reached (err, from
// Inspect, which left in snap what it read): no actions, and the connectivity validation Failed
// with the cause, without secrets.
func (s *Session) UnreachablePlan(snap *snapshot.Snapshot, err error) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Migration: s.Migration.Name, Databases: snap.Databases,
		Validations: []state.Validation{checks.ConnectivityFailed(s.Redact(err.Error()))}}
	if p.Databases == nil {
		p.Databases = []string{}
	}
	if snap.State != nil {
		p.StateLineage, p.StateSerial = snap.State.Lineage, snap.State.Serial
	}
	s.stamp(snap, p)
	p.Summary = plan.Summarize(nil, p.Validations)
	return p
}

// stamp sets what every plan document records of where and how it was made.
func (s *Session) stamp(snap *snapshot.Snapshot, p *plan.Plan) {
	p.ToolVersion = s.ToolVersion
	p.CreatedAt = time.Now().UTC().Truncate(time.Second)
	p.ConfigFingerprint = s.Migration.Fingerprint()
	p.Source, p.Target = snap.SourceIdentity(), snap.TargetIdentity()
}

// probe is the model basis (forecast.Probe: these servers measured now, cheaply and safely),
// which forecasts a migration no successful apply has taught yet. A variable, so that tests can
// price a plan without measuring servers.
var probe = forecast.Probe

// Forecast sets p.Forecast: how long applying p with jobs workers will take (SPEC §7). Its basis
// is the latest Succeeded apply of this migration that kept its per-action timings (a rehearsal,
// read from the state backend: no round trip to the servers), else a model of these servers
// measured now (probe). A forecast that cannot be made never fails the plan: p.Forecast then says
// why, in one line. A plan with nothing to apply, or whose validations failed, gets none.
func (s *Session) Forecast(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int) {
	p.Forecast = nil
	if !p.HasChanges() || p.ValidationFailed() {
		return
	}
	f, err := s.forecast(ctx, snap, p, jobs)
	if err != nil {
		msg := strings.Join(strings.Fields(s.Redact(err.Error())), " ")
		p.Forecast = &state.Forecast{Unavailable: msg}
		return
	}
	p.Forecast = f
}

func (s *Session) forecast(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int) (*state.Forecast, error) {
	run, err := s.latestRehearsal(ctx)
	if err != nil {
		return nil, err
	}
	var rerr error
	if run != nil {
		f, err := fromRehearsal(p, jobs, run)
		if err == nil {
			return f, nil
		}
		rerr = fmt.Errorf("run %d could not be scaled to this plan: %w", run.ID, err)
	}
	e, err := probe(ctx, snap, p, jobs)
	if err != nil {
		if rerr != nil {
			return nil, fmt.Errorf("%w; measuring the servers: %w", rerr, err)
		}
		return nil, fmt.Errorf("measuring the servers: %w", err)
	}
	return forecast.Make(p, jobs, e)
}

// fromRehearsal is the forecast of p scaled from run.
func fromRehearsal(p *plan.Plan, jobs int, run *state.Run) (*state.Forecast, error) {
	e, err := forecast.Rehearsal(p, jobs, run)
	if err != nil {
		return nil, err
	}
	f, err := forecast.Make(p, jobs, e)
	if err != nil {
		return nil, err
	}
	f.BasisRunMS = run.Duration().Milliseconds()
	return f, nil
}

// latestRehearsal is the migration's latest Succeeded apply that kept its per-action timings,
// or nil when there is none.
func (s *Session) latestRehearsal(ctx context.Context) (*state.Run, error) {
	runs, err := s.Backend.Runs(ctx, s.Migration.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the runs: %w", err)
	}
	for k := len(runs) - 1; k >= 0; k-- {
		r := runs[k]
		if r.Operation != state.OpApply || r.Outcome != state.StatusSucceeded || !r.Detailed || r.ActionCount == 0 {
			continue
		}
		run, err := s.Backend.Run(ctx, s.Migration.Name, r.ID)
		if err != nil {
			return nil, fmt.Errorf("reading run %d: %w", r.ID, err)
		}
		return run, nil
	}
	return nil, nil
}
