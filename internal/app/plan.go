package app

import (
	"time"

	"github.com/pgferry/pgferry/checks"
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
