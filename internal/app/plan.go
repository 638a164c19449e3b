package app

import (
	"context"
	"errors"
	"fmt"
	"runtime/trace"
	"strings"
	"sync"
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
	defer trace.StartRegion(context.Background(), "plan build").End()
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
	early, ahead := s.early, s.ahead
	s.early, s.ahead = nil, nil
	defer ahead.close() // after the early probe stopped (deferred below, so run first)
	defer early.stop()
	defer trace.StartRegion(ctx, "forecast").End()
	p.Forecast = nil
	if !p.HasChanges() || p.ValidationFailed() {
		return
	}
	f, err := s.forecast(ctx, snap, p, jobs, early, ahead)
	if err != nil {
		msg := strings.Join(strings.Fields(s.Redact(err.Error())), " ")
		p.Forecast = &state.Forecast{Unavailable: msg}
		return
	}
	p.Forecast = f
}

func (s *Session) forecast(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int, early *earlyProbe, ahead *aheadSessions) (*state.Forecast, error) {
	runs, err := s.latestRehearsals(ctx, forecast.MaxRehearsals)
	if err != nil {
		return nil, err
	}
	var rerr error
	if len(runs) > 0 {
		run := runs[0]
		// An action that grew far past its run's measure (a rehearsal of a tiny table) is priced
		// by the model: the servers are measured for it as for a plan without a rehearsal.
		model := func() (*forecast.Estimate, error) {
			m, err := s.probeQuiet(ctx, snap, p, jobs, ahead)
			if err != nil {
				return nil, errors.New(s.Redact(err.Error()))
			}
			return m, nil
		}
		f, err := fromRehearsal(p, jobs, runs, s.Prefetch, snap, model)
		if err == nil {
			return f, nil
		}
		rerr = fmt.Errorf("run %d could not be scaled to this plan: %w", run.ID, err)
	}
	e, err := early.take(ctx, p, jobs, snap)
	if e == nil && err == nil {
		e, err = s.probeQuiet(ctx, snap, p, jobs, ahead)
	}
	if err != nil {
		if rerr != nil {
			return nil, fmt.Errorf("%w; measuring the servers: %w", rerr, err)
		}
		return nil, fmt.Errorf("measuring the servers: %w", err)
	}
	if s.Prefetch {
		e = e.Prefetched()
	}
	return forecast.Make(p, jobs, e)
}

// probeQuiet probes (probe) once ProbeAfter is closed: not beside the schema dump an apply without
// a prompt has started, which on a machine of few cores (or a busy source) made the servers look
// two to three times slower than its run found them. Waiting costs that apply little: the dump
// overlaps the catalog reads, and the run would wait for it anyway.
// A dump that waits longer than dumpWait (pg_dump queued behind another session's lock) is
// measured beside all the same: the forecast is not held back with it.
//
// While it waits, the probe's own sessions are opened (forecast.Predial): their authentications
// are then no part of the time between the dump's end and the run's start. Those opened as the
// catalogs started to be read (ahead: predialProbe; nil: none) are taken first: Forecast takes
// them from the session before it probes, and opening a second pair beside the dump only loaded
// the servers.
func (s *Session) probeQuiet(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int, ahead *aheadSessions) (*forecast.Estimate, error) {
	if s.ProbeAfter != nil {
		ss := ahead.take()
		if ss == nil {
			select {
			case <-s.ProbeAfter:
			default:
				ss = predial(ctx, snap, p, jobs)
			}
		}
		defer ss.Close()
		ctx = forecast.WithSessions(ctx, ss)
		waiting := trace.StartRegion(ctx, "probe waits for the dump")
		wait := time.NewTimer(dumpWait)
		defer wait.Stop()
		select {
		case <-s.ProbeAfter:
		case <-wait.C:
		case <-ctx.Done():
			waiting.End()
			return nil, ctx.Err()
		}
		waiting.End()
	}
	defer trace.StartRegion(ctx, "forecast probe").End()
	return probe(ctx, snap, p, jobs)
}

// predial opens the probe's sessions ahead (forecast.Predial). A variable, as probe is: tests
// that price a plan without measuring servers open none.
var predial = forecast.Predial

// aheadSessions are the probe's sessions opened as the catalogs start to be read (predialProbe).
type aheadSessions struct {
	ready chan struct{}
	mu    sync.Mutex
	ss    *forecast.Sessions
}

// predialProbe opens, in the background, the sessions a cold forecast's probe will measure on
// (forecast.PredialDB), its source session in database db (where an apply without a prompt
// expects its plan's largest table: the database it prefetches), unless a rehearsal will be the
// forecast's basis: the apply that probes (probeQuiet) then finds them open, not only once the
// catalog reads ended (at the schema dump's end, on a small database). Forecast closes them
// when no probe took them.
func (s *Session) predialProbe(ctx context.Context, db string) {
	s.ahead.close() // an earlier Inspect's, not forecast
	a := &aheadSessions{ready: make(chan struct{})}
	s.ahead = a
	go func() {
		defer close(a.ready)
		if run, err := s.latestRehearsal(ctx); err != nil || run != nil {
			return
		}
		ss := predialDB(ctx, s.Migration, db, s.Migration.Options.Jobs)
		a.mu.Lock()
		a.ss = ss
		a.mu.Unlock()
	}()
}

// predialDB is forecast.PredialDB, a variable as predial is.
var predialDB = forecast.PredialDB

// take returns the sessions opened ahead, once, for the probe to measure on (nil: none, or taken
// already). A nil aheadSessions has none.
func (a *aheadSessions) take() *forecast.Sessions {
	if a == nil {
		return nil
	}
	<-a.ready
	a.mu.Lock()
	defer a.mu.Unlock()
	ss := a.ss
	a.ss = nil
	return ss
}

// close closes the sessions opened ahead that no probe took.
func (a *aheadSessions) close() { a.take().Close() }

// dumpWait is how long probeQuiet waits for the schema dump at most.
const dumpWait = 30 * time.Second

// fromRehearsal is the forecast of p scaled from runs, newest first (forecast.Rehearsals;
// prefetch: as Session.Prefetch; snap's copy-format samples price a copy a run sent in another format).
// The actions that outgrew the newest run's measure (forecast.Estimate.Outgrown) are priced by
// model's estimate of p (nil: not measured), and keep their scaled time with the widest range
// when it fails.
func fromRehearsal(p *plan.Plan, jobs int, runs []*state.Run, prefetch bool, snap *snapshot.Snapshot, model func() (*forecast.Estimate, error)) (*state.Forecast, error) {
	run := runs[0]
	var samples map[string]map[string]snapshot.CopySample
	if snap != nil {
		samples = snap.CopySamples
	}
	e, err := forecast.RehearsalsSampled(p, jobs, runs, samples)
	if err != nil {
		return nil, err
	}
	if e.Outgrown() > 0 && model != nil {
		m, err := model()
		if err != nil {
			e = e.Unmodelled(strings.Join(strings.Fields(err.Error()), " "))
		} else {
			e = e.WithModel(m)
		}
	}
	if prefetch {
		e = e.Prefetched()
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
	runs, err := s.latestRehearsals(ctx, 1)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	return runs[0], nil
}

// latestRehearsals are the migration's latest n Succeeded applies that kept their per-action
// timings, newest first, the older ones against the newest's target (none when there is none).
func (s *Session) latestRehearsals(ctx context.Context, n int) ([]*state.Run, error) {
	runs, err := s.Backend.Runs(ctx, s.Migration.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the runs: %w", err)
	}
	var out []*state.Run
	for k := len(runs) - 1; k >= 0 && len(out) < n; k-- {
		r := runs[k]
		if r.Operation != state.OpApply || r.Outcome != state.StatusSucceeded || !r.Detailed || r.ActionCount == 0 {
			continue
		}
		if len(out) > 0 && !forecast.SameTarget(out[0].Target, r.Target) {
			continue // forecast.Rehearsals would leave it out: its actions are not read
		}
		run, err := s.Backend.Run(ctx, s.Migration.Name, r.ID)
		if err != nil && len(out) > 0 {
			continue // an older run that cannot be read only leaves the median without it
		}
		if err != nil {
			return nil, fmt.Errorf("reading run %d: %w", r.ID, err)
		}
		out = append(out, run)
	}
	return out, nil
}

// earlyProbe is the model basis measured while the tables were sampled for copy_format
// (startProbe), for the plan made after.
type earlyProbe struct {
	jobs    int
	actions []*plan.Action // the plan it priced: the same actions as the plan made after
	cancel  context.CancelFunc
	done    chan struct{}
	e       *forecast.Estimate
	err     error
}

// startProbe starts the model basis's measures (probe) of the plan that snap will make, while
// Inspect samples the tables copy_format = "auto" decides by: the probe then costs plan and
// apply only what outlasts the samples. It measures what Forecast would measure after, but for
// one thing: the samples change a plan's actions in nothing but their copy format, and the probe
// copies its sample of the largest table in binary where the samples could still choose text (on
// a link slower than the source's COPY): Forecast prices a copy whose format the samples changed
// by its table's sampled bytes in each format (forecast.Reformatted). It checks that the actions
// are the same, and probes again otherwise. Not started
// when a rehearsal may be the basis, when no table is sampled (nothing to overlap), or when there
// is nothing to do.
func (s *Session) startProbe(ctx context.Context, snap *snapshot.Snapshot) {
	if s.early != nil || !sampled(snap) {
		return
	}
	if run, err := s.latestRehearsal(ctx); err != nil || run != nil {
		return
	}
	unsampled := *snap
	unsampled.CopySamples, unsampled.LinkBytesPerSec, unsampled.CopyBytesPerSec = nil, 0, 0
	p, err := plan.Build(plan.Input{Snapshot: &unsampled})
	if err != nil || !p.HasChanges() {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	ep := &earlyProbe{jobs: s.Migration.Options.Jobs, actions: p.Actions, cancel: cancel, done: make(chan struct{})}
	ahead := s.ahead
	go func() {
		defer close(ep.done)
		ep.e, ep.err = s.probeQuiet(ctx, &unsampled, p, ep.jobs, ahead)
	}()
	s.early = ep
}

// sampled reports whether any table of snap is sampled for copy_format (plan.CopySampled).
func sampled(snap *snapshot.Snapshot) bool {
	for _, db := range snap.Databases {
		if sdb := snap.SourceDBs[db]; sdb != nil && len(plan.CopySampled(snap.Migration.Options, sdb)) > 0 {
			return true
		}
	}
	return false
}

// take returns the early probe's estimate for p with jobs workers, its copies priced in the
// formats snap's samples chose (forecast.Reformatted); nil and no error when it was not started,
// or measured for other actions or another jobs.
func (ep *earlyProbe) take(ctx context.Context, p *plan.Plan, jobs int, snap *snapshot.Snapshot) (*forecast.Estimate, error) {
	if ep == nil || ep.jobs != jobs || len(ep.actions) != len(p.Actions) {
		return nil, nil
	}
	for i, a := range p.Actions {
		if b := ep.actions[i]; a.Address != b.Address || a.Type != b.Type {
			return nil, nil
		}
	}
	select {
	case <-ep.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ep.err != nil || snap == nil {
		return ep.e, ep.err
	}
	return forecast.Reformatted(ep.e, ep.actions, p.Actions, snap.CopySamples), nil
}

// stop ends the early probe unless it finished, and waits for it to drop its temporary tables.
// A nil earlyProbe does nothing.
func (ep *earlyProbe) stop() {
	if ep != nil {
		ep.cancel()
		<-ep.done
	}
}
