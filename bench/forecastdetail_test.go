package main

// A developer's tool, not a test of the bench: the model forecast's price of every plan action
// next to what the apply that followed took, summed per kind of action. It needs the clusters a
// `make bench-forecast BENCH_FLAGS=-keep` left running:
//
//	FORECAST_DETAIL_DIR=/var/tmp/pgferry-bench [FORECAST_DETAIL_CONFIG=DIR] [FORECAST_DETAIL_RUNS=3] \
//	  go test -run TestForecastDetail -count=1 -v ./bench
//
// Each run destroys the target database when it exists, checkpoints both servers, prices the plan
// in this process (forecast.Measure and Rates.Price: the code of this tree), then runs
// `pgferry apply --auto-approve` (the bench's binary, or FORECAST_DETAIL_PGFERRY) and reads its
// run from the state. FORECAST_DETAIL_CONFIG is the configuration's directory (default: the
// forecast bench's, DIR/work/forecast).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/internal/forecast"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

func TestForecastDetail(t *testing.T) {
	dir := os.Getenv("FORECAST_DETAIL_DIR")
	if dir == "" {
		t.Skip("FORECAST_DETAIL_DIR names a bench directory with running clusters (a developer's tool)")
	}
	cfgDir := os.Getenv("FORECAST_DETAIL_CONFIG")
	if cfgDir == "" {
		cfgDir = filepath.Join(dir, "work", "forecast")
	}
	bin := os.Getenv("FORECAST_DETAIL_PGFERRY")
	if bin == "" {
		bin = filepath.Join(dir, "bin", "pgferry")
	}
	runs, _ := strconv.Atoi(os.Getenv("FORECAST_DETAIL_RUNS"))
	src, tgt, env := benchClusters(t, dir)
	for i := range max(runs, 1) {
		d, err := detailRun(t.Context(), cfgDir, bin, env, src, tgt)
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		fmt.Print(d)
	}
}

func pgferryIn(ctx context.Context, bin, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--chdir", dir, "--no-color"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgferry %s: %w\n%s", strings.Join(args, " "), err, clip(string(out), 2000))
	}
	return nil
}

func detailRun(ctx context.Context, cfgDir, bin string, env []string, src, tgt *pgtest.Cluster) (string, error) {
	cfg, diags := config.Load(cfgDir, config.Inputs{Env: env})
	if diags.HasErrors() {
		return "", fmt.Errorf("%s: %v", cfgDir, diags)
	}
	s, err := app.Open(ctx, cfg, "", "dev")
	if err != nil {
		return "", err
	}
	defer s.Close()
	for _, db := range s.Migration.Databases {
		if rows, err := tgt.Query(ctx, "postgres", fmt.Sprintf("SELECT 1 FROM pg_database WHERE datname = '%s'", db)); err == nil && len(rows) > 0 {
			if err := pgferryIn(ctx, bin, cfgDir, env, "destroy", "--auto-approve"); err != nil {
				return "", err
			}
			break
		}
	}
	for _, c := range []*pgtest.Cluster{tgt, src} {
		if err := c.Exec(ctx, "postgres", "CHECKPOINT"); err != nil {
			return "", err
		}
	}
	snap, err := s.Inspect(ctx, app.InspectOptions{})
	if err != nil {
		return "", err
	}
	p, err := s.Plan(snap)
	if err != nil {
		return "", err
	}
	jobs := s.Migration.Options.Jobs
	start := time.Now()
	r, err := forecast.Measure(ctx, snap, p, jobs)
	if err != nil {
		return "", err
	}
	probeTime := time.Since(start)
	durs, fixed, _ := r.Price(p, jobs, s.Migration.Options.Verify, snap.SourceDBs)
	// As plan prices it: apply --auto-approve dumps the schema while it plans (Prefetched).
	e := &forecast.Estimate{Basis: forecast.BasisModel, Durations: durs, Fixed: fixed,
		Prefetchable: r.Prefetchable(p, jobs, s.Migration.Options.Verify, snap.SourceDBs),
		Analyses:     r.Analyses(p, jobs, s.Migration.Options.Verify, snap.SourceDBs)}
	e = e.Prefetched()
	fixed = e.Fixed
	f, err := forecast.Make(p, jobs, e)
	if err != nil {
		return "", err
	}
	load, _ := os.ReadFile("/proc/loadavg")
	if err := pgferryIn(ctx, bin, cfgDir, env, "apply", "--auto-approve"); err != nil {
		return "", err
	}
	sums, err := s.Backend.Runs(ctx, s.Migration.Name)
	if err != nil || len(sums) == 0 {
		return "", fmt.Errorf("no run recorded: %v", err)
	}
	run, err := s.Backend.Run(ctx, s.Migration.Name, sums[len(sums)-1].ID)
	if err != nil {
		return "", err
	}
	if dir := os.Getenv("FORECAST_DETAIL_SAVE"); dir != "" {
		saved := detailSaved{Rates: r, Plan: p, DBs: snap.SourceDBs, Jobs: jobs, Verify: s.Migration.Options.Verify, Run: run, Load: string(load), Config: cfgDir}
		doc, err := json.Marshal(saved)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("detail-%d.json", time.Now().UnixNano())), doc, 0o644); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "== %s, jobs %d, load %s", cfgDir, jobs, load)
	fmt.Fprintf(&b, "probe %s: %+v\n", probeTime.Round(time.Millisecond), r)
	b.WriteString(detailTable(p, durs, fixed, time.Duration(f.ExpectedMS)*time.Millisecond, run, jobs))
	return b.String(), nil
}

// detailSaved is what FORECAST_DETAIL_SAVE keeps of a run, to price it again with other code
// (TestForecastReprice): the measures, the plan and catalog they priced, and the apply's run.
type detailSaved struct {
	Rates  forecast.Rates
	Plan   *plan.Plan
	DBs    map[string]*catalog.Database
	Jobs   int
	Verify string
	Run    *state.Run
	Load   string
	Config string
}

// TestForecastReprice prices the runs FORECAST_REPRICE (a glob of FORECAST_DETAIL_SAVE's files)
// names again with this tree's model: the same measures and the same apply, for an A/B of the
// pricing that the load of the machine does not blur.
func TestForecastReprice(t *testing.T) {
	glob := os.Getenv("FORECAST_REPRICE")
	if glob == "" {
		t.Skip("FORECAST_REPRICE names saved runs (a developer's tool)")
	}
	files, _ := filepath.Glob(glob)
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d detailSaved
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		durs, fixed, _ := d.Rates.Price(d.Plan, d.Jobs, d.Verify, d.DBs)
		e := &forecast.Estimate{Basis: forecast.BasisModel, Durations: durs, Fixed: fixed,
			Prefetchable: d.Rates.Prefetchable(d.Plan, d.Jobs, d.Verify, d.DBs),
			Analyses:     d.Rates.Analyses(d.Plan, d.Jobs, d.Verify, d.DBs)}
		e = e.Prefetched()
		fixed = e.Fixed
		fc, err := forecast.Make(d.Plan, d.Jobs, e)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("== %s (%s), load %s", filepath.Base(f), d.Config, d.Load)
		fmt.Print(detailTable(d.Plan, durs, fixed, time.Duration(fc.ExpectedMS)*time.Millisecond, d.Run, d.Jobs))
	}
}

// detailKind groups a plan action for the table.
func detailKind(a *plan.Action) string {
	switch a.Type {
	case plan.TypeTable, plan.TypeTablePart:
		return "copy"
	case plan.TypeRole, plan.TypeParameter, plan.TypeMembership, plan.TypeLoginMembership:
		return "instance"
	}
	return a.Type
}

// detailTable prints predicted and actual time per kind of action (an action's actual time holds
// what it waited for locks; the predicted, its work alone: the simulation adds the waits), the
// largest actions, and the totals: the model's, and the run's (less its actions' span, what apply
// spent outside the actions).
func detailTable(p *plan.Plan, durs []time.Duration, fixed, forecastTotal time.Duration, run *state.Run, jobs int) string {
	actual := map[string]time.Duration{}
	for _, a := range run.Actions {
		actual[a.Address] = a.End - a.Start
	}
	type sum struct {
		n          int
		pred, real time.Duration
	}
	kinds := map[string]*sum{}
	var order []string
	real := make([]time.Duration, len(p.Actions))
	type big struct {
		addr       string
		pred, real time.Duration
	}
	var bigs []big
	for i, a := range p.Actions {
		k := detailKind(a)
		if kinds[k] == nil {
			kinds[k] = &sum{}
			order = append(order, k)
		}
		got, ok := actual[a.Address]
		if !ok {
			got = 0
		}
		real[i] = max(got, time.Millisecond)
		kinds[k].n++
		kinds[k].pred += durs[i]
		kinds[k].real += got
		bigs = append(bigs, big{a.Address, durs[i], got})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %5s %10s %10s %6s\n", "kind", "n", "predicted", "actual", "ratio")
	for _, k := range order {
		s := kinds[k]
		fmt.Fprintf(&b, "%-12s %5d %10s %10s %6.2f\n", k, s.n, dms(s.pred), dms(s.real), float64(s.pred)/float64(max(s.real, 1)))
	}
	slices.SortFunc(bigs, func(x, y big) int { return int(max(y.pred, y.real) - max(x.pred, x.real)) })
	for _, x := range bigs[:min(12, len(bigs))] {
		fmt.Fprintf(&b, "  %-70s %8s %8s\n", clip(x.addr, 70), dms(x.pred), dms(x.real))
	}
	// The run's actions, first start to last end (a replay of their durations would count again
	// the lock waits they hold).
	var first, last time.Duration = -1, 0
	for _, a := range run.Actions {
		if first < 0 || a.Start < first {
			first = a.Start
		}
		last = max(last, a.End)
	}
	span := last - max(first, 0)
	wall := run.Duration()
	fmt.Fprintf(&b, "outside graph: predicted %s, actual %s (run %s − its actions' span %s)\n", dms(fixed), dms(wall-span), dms(wall), dms(span))
	fmt.Fprintf(&b, "TOTAL forecast %s, actual %s: error %+.1f%%\n\n", dms(forecastTotal), dms(wall), 100*(float64(forecastTotal)-float64(wall))/float64(wall))
	return b.String()
}

func dms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }

// TestForecastProbeTime times forecast.Measure FORECAST_DETAIL_RUNS times on the configuration
// FORECAST_DETAIL_CONFIG names (its plan made once), for an A/B of the probe's cost.
func TestForecastProbeTime(t *testing.T) {
	cfgDir := os.Getenv("FORECAST_DETAIL_CONFIG")
	if cfgDir == "" || os.Getenv("FORECAST_PROBE_TIME") == "" {
		t.Skip("FORECAST_PROBE_TIME and FORECAST_DETAIL_CONFIG (a developer's tool)")
	}
	dir := os.Getenv("FORECAST_DETAIL_DIR")
	_, _, env := benchClusters(t, dir)
	cfg, diags := config.Load(cfgDir, config.Inputs{Env: env})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, err := app.Open(t.Context(), cfg, "", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.Inspect(t.Context(), app.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan(snap)
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := strconv.Atoi(os.Getenv("FORECAST_DETAIL_RUNS"))
	for range max(runs, 1) {
		start := time.Now()
		if _, err := forecast.Measure(t.Context(), snap, p, s.Migration.Options.Jobs); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("probe %s %s\n", filepath.Base(cfgDir), time.Since(start).Round(time.Millisecond))
	}
}

// benchClusters loads the source and target clusters a bench left running in dir, and the
// environment that gives pgferry their passwords.
func benchClusters(t *testing.T, dir string) (src, tgt *pgtest.Cluster, env []string) {
	t.Helper()
	var err error
	if src, err = pgtest.Load(filepath.Join(dir, "source")); err != nil {
		t.Fatal(err)
	}
	if tgt, err = pgtest.Load(filepath.Join(dir, "target")); err != nil {
		t.Fatal(err)
	}
	return src, tgt, append(os.Environ(), "PGFERRY_SOURCE_PASSWORD="+src.Password, "PGFERRY_TARGET_PASSWORD="+tgt.Password)
}
