package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/forecast"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// forecastPlan is a small plan with changes: a database, its schema, two tables and an index.
func forecastPlan(ordersBytes int64) *plan.Plan {
	db := "app"
	schema := db + ".schema"
	orders, customers := plan.TableAddr(db, "public", "orders"), plan.TableAddr(db, "public", "customers")
	acts := []*plan.Action{
		{Address: "database.app", Type: plan.TypeDatabase, Kind: plan.Create, Database: db},
		{Address: schema, Type: plan.TypeSchema, Kind: plan.Create, Database: db, DependsOn: []string{"database.app"}},
		{Address: orders, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: "orders", BytesEstimate: ordersBytes, DependsOn: []string{schema}},
		{Address: customers, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: "customers", BytesEstimate: 1 << 20, DependsOn: []string{schema}},
		{Address: plan.IndexAddr(db, "public", "orders_pkey"), Type: plan.TypeIndex, Kind: plan.Create, Database: db, Schema: "public", Name: "orders_pkey", Table: "orders", DependsOn: []string{orders}},
	}
	return &plan.Plan{Migration: "m", Databases: []string{db}, Actions: acts, Summary: plan.Summarize(acts, nil)}
}

func forecastSession(t *testing.T) *Session {
	t.Helper()
	b, err := state.Open(context.Background(), "local", t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &Session{Migration: &config.Migration{Name: "m"}, Backend: b, Secrets: []string{"s3cret"}}
}

// record stores an apply of p that took 1s per action one after another, with outcome.
func record(t *testing.T, s *Session, p *plan.Plan, outcome state.Status) {
	t.Helper()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &state.State{}
	for i, a := range p.Actions {
		start, end := t0.Add(time.Duration(i)*time.Second), t0.Add(time.Duration(i+1)*time.Second)
		st.Actions = append(st.Actions, &state.Action{Address: a.Address, Status: state.ActionApplied, StartedAt: &start, FinishedAt: &end})
	}
	ar := ApplyRun{State: st, Plan: p, Start: t0, Jobs: 2}
	if outcome == state.StatusFailed {
		ar.Err = errors.New("boom")
	}
	if _, err := s.RecordRun(context.Background(), ar.Build(t0.Add(time.Duration(len(p.Actions)+2)*time.Second))); err != nil {
		t.Fatal(err)
	}
}

func TestSessionForecast(t *testing.T) {
	ctx := context.Background()
	s := forecastSession(t)

	// No run yet, and the servers cannot be measured: the plan says why, in one line.
	saved := probe
	defer func() { probe = saved }()
	probe = func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error) {
		return nil, errors.New("connection refused")
	}
	p := forecastPlan(100 << 20)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if p.Forecast == nil || p.Forecast.Unavailable != "measuring the servers: connection refused" {
		t.Fatalf("forecast %+v", p.Forecast)
	}
	if RunForecast(p) != nil {
		t.Error("a run would record an unavailable forecast")
	}

	// A failed apply teaches nothing; the Succeeded one after it is the basis.
	record(t, s, forecastPlan(100<<20), state.StatusFailed)
	record(t, s, forecastPlan(100<<20), state.StatusSucceeded)
	p = forecastPlan(100 << 20)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	f := p.Forecast
	if f == nil || f.Unavailable != "" || f.Basis != forecast.BasisRehearsal || f.BasisRun != 2 || f.Jobs != 2 || f.BasisRunMS != 7000 {
		t.Fatalf("forecast %+v", f)
	}
	// The same plan at the same jobs: the rehearsal's wall time.
	if f.ExpectedMS != 7000 {
		t.Errorf("expected %dms, want 7000", f.ExpectedMS)
	}
	if RunForecast(p) != f {
		t.Error("the run does not record the plan's forecast")
	}
	// orders grew by half: its copy and its index take half as long again.
	p = forecastPlan(150 << 20)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f.ExpectedMS <= 7000 || f.ExpectedMS > 8100 {
		t.Errorf("orders grew by half: %dms, want about 8000", f.ExpectedMS)
	}

	// Nothing to apply: no forecast at all.
	none := &plan.Plan{Migration: "m"}
	s.Forecast(ctx, &snapshot.Snapshot{}, none, 2)
	if none.Forecast != nil {
		t.Errorf("no changes: forecast %+v", none.Forecast)
	}
}

// TestSessionForecastModel: without a rehearsal the model basis (probe) prices the plan; its
// failure is said in one line, secrets redacted.
func TestSessionForecastModel(t *testing.T) {
	ctx := context.Background()
	s := forecastSession(t)
	defer func(saved func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error)) {
		probe = saved
	}(probe)
	probe = func(_ context.Context, _ *snapshot.Snapshot, p *plan.Plan, jobs int) (*forecast.Estimate, error) {
		d := make([]time.Duration, len(p.Actions))
		for i := range d {
			d[i] = time.Second
		}
		return &forecast.Estimate{Basis: forecast.BasisModel, Durations: d, Spread: 0.3}, nil
	}
	p := forecastPlan(100 << 20)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	// orders (the second of two tables in pg_dump's order) is copied from the end of the schema action: 4 s.
	if f := p.Forecast; f == nil || f.Basis != forecast.BasisModel || f.BasisRun != 0 || f.ExpectedMS != 4000 || f.LowMS != 2800 {
		t.Errorf("model forecast %+v", f)
	}
	probe = func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error) {
		return nil, errors.New("connecting with password s3cret:\nrefused")
	}
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || strings.Contains(f.Unavailable, "s3cret") || strings.Contains(f.Unavailable, "\n") || !strings.HasPrefix(f.Unavailable, "measuring the servers: ") {
		t.Errorf("model failure: %+v", f)
	}
}

// TestSessionForecastEarly: the model basis measured while the tables were sampled (startProbe)
// prices the plan made after when its actions and jobs are the plan's; otherwise the servers are
// measured again, and the early measures are stopped either way.
func TestSessionForecastEarly(t *testing.T) {
	ctx := context.Background()
	defer func(saved func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error)) {
		probe = saved
	}(probe)
	probed := 0
	probe = func(_ context.Context, _ *snapshot.Snapshot, p *plan.Plan, jobs int) (*forecast.Estimate, error) {
		probed++
		d := make([]time.Duration, len(p.Actions))
		for i := range d {
			d[i] = 2 * time.Second
		}
		return &forecast.Estimate{Basis: forecast.BasisModel, Durations: d, Spread: 0.3}, nil
	}
	early := func(jobs int, p *plan.Plan) (*earlyProbe, *bool) {
		d := make([]time.Duration, len(p.Actions))
		for i := range d {
			d[i] = time.Second
		}
		stopped := false
		ep := &earlyProbe{jobs: jobs, actions: p.Actions, cancel: func() { stopped = true }, done: make(chan struct{}),
			e: &forecast.Estimate{Basis: forecast.BasisModel, Durations: d, Spread: 0.3}}
		close(ep.done)
		return ep, &stopped
	}
	s := forecastSession(t)
	p := forecastPlan(100 << 20)
	var stopped *bool
	s.early, stopped = early(2, forecastPlan(100<<20))
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || f.ExpectedMS != 4000 || probed != 0 || s.early != nil || !*stopped {
		t.Errorf("early measures of the same actions: forecast %+v, probed %d times, kept %v, stopped %v", f, probed, s.early != nil, *stopped)
	}
	// Another jobs (apply --jobs): measured again.
	s.early, stopped = early(4, forecastPlan(100<<20))
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || f.ExpectedMS != 8000 || probed != 1 || !*stopped {
		t.Errorf("early measures for other jobs: forecast %+v, probed %d times, stopped %v", f, probed, *stopped)
	}
	// Other actions: measured again.
	other := forecastPlan(100 << 20)
	other.Actions = other.Actions[:4]
	s.early, stopped = early(2, other)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || f.ExpectedMS != 8000 || probed != 2 || !*stopped {
		t.Errorf("early measures of other actions: forecast %+v, probed %d times, stopped %v", f, probed, *stopped)
	}
	// Nothing to apply: no forecast, and the early measures are stopped.
	s.early, stopped = early(2, forecastPlan(100<<20))
	none := &plan.Plan{Migration: "m"}
	s.Forecast(ctx, &snapshot.Snapshot{}, none, 2)
	if none.Forecast != nil || s.early != nil || !*stopped {
		t.Errorf("no changes: forecast %+v, stopped %v", none.Forecast, *stopped)
	}
}

// TestSessionForecastAfterDump: an apply without a prompt measures the servers only once its
// prefetched schema dump is done (ProbeAfter), not beside it; interrupted while it waits, it
// measures nothing and says so.
func TestSessionForecastAfterDump(t *testing.T) {
	defer func(saved func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error)) {
		probe = saved
	}(probe)
	dumped := make(chan struct{})
	var probedAfter atomic.Bool
	probe = func(_ context.Context, _ *snapshot.Snapshot, p *plan.Plan, jobs int) (*forecast.Estimate, error) {
		select {
		case <-dumped:
			probedAfter.Store(true)
		default:
		}
		d := make([]time.Duration, len(p.Actions))
		for i := range d {
			d[i] = time.Second
		}
		return &forecast.Estimate{Basis: forecast.BasisModel, Durations: d, Spread: 0.3}, nil
	}
	// While it waits, the probe's sessions are opened (predial), for the jobs it measures.
	defer func(saved func(context.Context, *snapshot.Snapshot, *plan.Plan, int) *forecast.Sessions) {
		predial = saved
	}(predial)
	var predialed atomic.Int32
	predial = func(_ context.Context, _ *snapshot.Snapshot, _ *plan.Plan, jobs int) *forecast.Sessions {
		predialed.Store(int32(jobs))
		return nil
	}
	s := forecastSession(t)
	s.ProbeAfter = dumped
	p := forecastPlan(100 << 20)
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(dumped)
	}()
	s.Forecast(context.Background(), &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || f.Unavailable != "" || !probedAfter.Load() {
		t.Fatalf("forecast %+v, probed after the dump: %v", f, probedAfter.Load())
	}
	if predialed.Load() != 2 {
		t.Errorf("sessions opened ahead for %d jobs, want 2 (opened while the dump ran)", predialed.Load())
	}
	// The dump done already: nothing to open ahead, the probe opens its own.
	predialed.Store(0)
	p = forecastPlan(100 << 20)
	s.Forecast(context.Background(), &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || f.Unavailable != "" || predialed.Load() != 0 {
		t.Errorf("dump done: forecast %+v, sessions opened ahead for %d jobs (want none)", f, predialed.Load())
	}

	// Ctrl-C while the dump runs: no measure, the plan says why.
	s.ProbeAfter = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	probedAfter.Store(false)
	p = forecastPlan(100 << 20)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || !strings.Contains(f.Unavailable, "canceled") {
		t.Errorf("interrupted while waiting: forecast %+v", f)
	}
}

// TestSessionForecastEarlyFormats: the early measures priced orders' copy in binary; the samples
// then chose text for it (half the bytes on the wire): the forecast prices it so, without measuring
// again.
func TestSessionForecastEarlyFormats(t *testing.T) {
	ctx := context.Background()
	defer func(saved func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error)) {
		probe = saved
	}(probe)
	probed := 0
	probe = func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error) {
		probed++
		return nil, errors.New("measured again")
	}
	withFormat := func(orders string) *plan.Plan {
		p := forecastPlan(100 << 20)
		for _, a := range p.Actions {
			if a.Type == plan.TypeTable {
				a.CopyFormat = "binary"
				if a.Name == "orders" {
					a.CopyFormat = orders
				}
			}
		}
		return p
	}
	snap := &snapshot.Snapshot{CopySamples: map[string]map[string]snapshot.CopySample{
		"app": {"public.orders": {Rows: 100, Text: 500, Binary: 1000}}}}
	forecastOf := func(now *plan.Plan) int64 {
		t.Helper()
		early := withFormat("binary")
		// orders 9 s, customers 1 s (the quickest copy: the fixed part), the rest 1 s.
		d := make([]time.Duration, len(early.Actions))
		for i, a := range early.Actions {
			d[i] = time.Second
			if a.Name == "orders" {
				d[i] = 9 * time.Second
			}
		}
		s := forecastSession(t)
		s.early = &earlyProbe{jobs: 2, actions: early.Actions, cancel: func() {}, done: make(chan struct{}),
			e: &forecast.Estimate{Basis: forecast.BasisModel, Durations: d, Spread: 0.3}}
		close(s.early.done)
		s.Forecast(ctx, snap, now, 2)
		if now.Forecast == nil || now.Forecast.Unavailable != "" {
			t.Fatalf("forecast %+v", now.Forecast)
		}
		return now.Forecast.ExpectedMS
	}
	same, text := forecastOf(withFormat("binary")), forecastOf(withFormat("text"))
	if probed != 0 {
		t.Errorf("measured again %d times", probed)
	}
	// orders: 1 s fixed + 8 s × 500/1000 = 5 s instead of 9 s, on the critical path.
	if same-text != 4000 {
		t.Errorf("forecast %d ms with orders in binary, %d ms in text: want 4000 ms less", same, text)
	}
}

// TestSessionForecastRehearsalFormats: the plan's copy-format samples reach the rehearsal basis: a
// table the rehearsal sent in text (its wire bytes a row are the sample's text ones), which this
// plan copies in binary, is priced in binary, and the forecast says so.
func TestSessionForecastRehearsalFormats(t *testing.T) {
	ctx := context.Background()
	s := forecastSession(t)
	p := forecastPlan(100 << 20)
	// The rehearsal: 1 s an action; orders' 1M rows sent at 13 B a row (text).
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &state.State{}
	for i, a := range p.Actions {
		start, end := t0.Add(time.Duration(i)*time.Second), t0.Add(time.Duration(i+1)*time.Second)
		sa := &state.Action{Address: a.Address, Status: state.ActionApplied, StartedAt: &start, FinishedAt: &end}
		if a.Name == "orders" && a.Type == plan.TypeTable {
			sa.Rows, sa.Bytes = 1_000_000, 13_000_000
		}
		st.Actions = append(st.Actions, sa)
	}
	ar := ApplyRun{State: st, Plan: p, Start: t0, Jobs: 2}
	if _, err := s.RecordRun(ctx, ar.Build(t0.Add(time.Duration(len(p.Actions)+2)*time.Second))); err != nil {
		t.Fatal(err)
	}
	// Samples: orders is 13 B a row in text, 30 in binary; the source streamed binary at 300 MB/s.
	snap := &snapshot.Snapshot{CopySamples: map[string]map[string]snapshot.CopySample{
		"app": {"public.orders": {Rows: 1000, Text: 13_000, Binary: 30_000, BinaryTime: 100 * time.Microsecond}}}}
	same := forecastPlan(100 << 20)
	same.Actions[2].CopyFormat = config.CopyFormatText
	s.Forecast(ctx, snap, same, 2)
	if f := same.Forecast; f == nil || f.ExpectedMS != 7000 || f.Note != "" {
		t.Fatalf("text again: forecast %+v, want the run's 7000ms and no note", f)
	}
	p = forecastPlan(100 << 20)
	p.Actions[2].CopyFormat = config.CopyFormatBinary
	s.Forecast(ctx, snap, p, 2)
	f := p.Forecast
	// orders in binary: 30 MB at 300 MB/s, 0.1 s instead of 1 s.
	if f == nil || f.ExpectedMS < 6000 || f.ExpectedMS > 6300 || !strings.Contains(f.Note, "1 copy in another COPY format than run 1 sent, priced for this plan's") {
		t.Fatalf("binary now: forecast %+v, want about 6100ms and the note", f)
	}
}

// TestPredialProbe: an apply without a prompt opens its probe's sessions as the catalogs start to
// be read, in the database it prefetches, with its jobs; not when a rehearsal will be the basis.
// Forecast hands them to the probe; what no probe took is closed by Forecast.
func TestPredialProbe(t *testing.T) {
	ctx := context.Background()
	defer func(saved func(context.Context, *config.Migration, string, int) *forecast.Sessions) {
		predialDB = saved
	}(predialDB)
	var got string
	predialDB = func(_ context.Context, _ *config.Migration, db string, jobs int) *forecast.Sessions {
		got = fmt.Sprintf("%s/%d", db, jobs)
		return nil
	}
	s := forecastSession(t)
	s.Migration.Options.Jobs = 2
	s.predialProbe(ctx, "app")
	if ss := s.ahead.take(); ss != nil || got != "app/2" {
		t.Errorf("cold: sessions opened ahead in %q (want app/2), taken %v", got, ss)
	}
	// Forecast forgets them (closing what no probe took).
	defer func(saved func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error)) {
		probe = saved
	}(probe)
	probe = func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error) {
		return nil, errors.New("connection refused")
	}
	s.Forecast(ctx, &snapshot.Snapshot{}, forecastPlan(100<<20), 2)
	if s.ahead != nil {
		t.Error("Forecast kept the sessions opened ahead")
	}

	// A rehearsal is the basis: no probe, no sessions opened for it.
	record(t, s, forecastPlan(100<<20), state.StatusSucceeded)
	got = ""
	s.predialProbe(ctx, "app")
	if ss := s.ahead.take(); ss != nil || got != "" {
		t.Errorf("after a rehearsal: sessions opened ahead in %q, want none", got)
	}
}

// TestSessionForecastOutgrown: a rehearsal of a tiny table that holds far more now is priced by the
// model for that table's actions (the servers are measured for it), and by the rehearsal for the
// rest; a plan nothing of which outgrew the rehearsal measures nothing. A failed measure keeps the
// scaled time, with the widest range, and says why, secrets redacted.
func TestSessionForecastOutgrown(t *testing.T) {
	ctx := context.Background()
	s := forecastSession(t)
	defer func(saved func(context.Context, *snapshot.Snapshot, *plan.Plan, int) (*forecast.Estimate, error)) {
		probe = saved
	}(probe)
	var probes atomic.Int32
	var fail error
	probe = func(_ context.Context, _ *snapshot.Snapshot, p *plan.Plan, jobs int) (*forecast.Estimate, error) {
		probes.Add(1)
		if fail != nil {
			return nil, fail
		}
		d := make([]time.Duration, len(p.Actions))
		for i := range d {
			d[i] = 2 * time.Second
		}
		return &forecast.Estimate{Basis: forecast.BasisModel, Durations: d, Spread: 0.3}, nil
	}
	record(t, s, forecastPlan(64<<10), state.StatusSucceeded) // orders: 64 KiB, 1 s an action

	// orders grew by half: scaled, no measure.
	p := forecastPlan(96 << 10)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	if f := p.Forecast; f == nil || f.Basis != forecast.BasisRehearsal || f.Note != "" || probes.Load() != 0 {
		t.Fatalf("grown by half: forecast %+v, %d probes", f, probes.Load())
	}

	// orders holds 800 MiB now (12,800×): its copy and its index are the model's 2 s each.
	p = forecastPlan(800 << 20)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	f := p.Forecast
	if f == nil || f.Basis != forecast.BasisRehearsal || f.BasisRun != 1 || probes.Load() != 1 {
		t.Fatalf("outgrown: forecast %+v, %d probes", f, probes.Load())
	}
	if want := "2 actions grew 12,000× or more since run 1: priced by the model of these servers"; f.Note != want {
		t.Errorf("note %q, want %q", f.Note, want)
	}
	// database 1 s, schema 1 s, orders 2 s beside customers 1 s, orders_pkey 2 s, and the run's 2 s outside.
	if f.ExpectedMS < 7000 || f.ExpectedMS > 9000 {
		t.Errorf("outgrown: %dms, want about 8000 (scaled: hours)", f.ExpectedMS)
	}

	// The servers cannot be measured: scaled, the widest range, and why.
	fail = errors.New("password s3cret refused")
	p = forecastPlan(800 << 20)
	s.Forecast(ctx, &snapshot.Snapshot{}, p, 2)
	f = p.Forecast
	if f == nil || f.Unavailable != "" || !strings.Contains(f.Note, "the model could not be measured: password ") || strings.Contains(f.Note, "s3cret") {
		t.Fatalf("unmeasured: forecast %+v", f)
	}
	if f.HighMS <= f.ExpectedMS*17/10 {
		t.Errorf("unmeasured: range %d–%dms around %dms, want the widest", f.LowMS, f.HighMS, f.ExpectedMS)
	}
}
