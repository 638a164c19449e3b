package main

// The forecast-accuracy benchmark (issue 14): how close `pgferry plan`'s forecast of apply's wall
// time comes to the apply that follows, cold (a model of these servers), after one rehearsal, and
// after the largest table grew by half. One migration, one state directory, the user's rehearsal
// loop: plan, apply, destroy, plan, apply, destroy, grow the source, plan, apply.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The source database the steps migrate, and the template it is made from before each bench run
// (step 3 grows the source: the template keeps the dataset as generated, for -reuse).
const (
	forecastDB   = "forecast"
	forecastBase = "forecast_base"
)

// forecastStep is one of the three cases and its bar (issue 14's acceptance).
type forecastStep struct {
	Case string
	// Bar is the largest error allowed, as a fraction: 0.35 is ±35%.
	Bar float64
	// WantBasis is the basis the forecast should have; WantRun, for "rehearsal", the run it
	// should come from (the previous apply's id, known once that ran).
	WantBasis string
	WantRun   int
}

var forecastSteps = []forecastStep{
	{Case: "cold: no run yet", Bar: 0.35, WantBasis: "model"},
	{Case: "after one rehearsal", Bar: 0.15, WantBasis: "rehearsal"},
	{Case: "largest table grown by half", Bar: 0.20, WantBasis: "rehearsal"},
}

// planForecast is plan --json's "forecast" object (SPEC §7).
type planForecast struct {
	Seconds      float64  `json:"seconds"`
	LowSeconds   float64  `json:"low_seconds"`
	HighSeconds  float64  `json:"high_seconds"`
	Basis        string   `json:"basis"`
	Run          *int     `json:"run"`
	CriticalPath []string `json:"critical_path"`
}

// parsePlanForecast reads the forecast out of a `plan --json` document; a document without one
// (a pgferry built before issue 14's forecast) is an error that says so.
func parsePlanForecast(doc []byte) (*planForecast, error) {
	var d struct {
		FormatVersion string          `json:"format_version"`
		ToolVersion   string          `json:"tool_version"`
		Status        string          `json:"status"`
		Forecast      json.RawMessage `json:"forecast"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(doc), &d); err != nil {
		return nil, fmt.Errorf("plan --json is not a JSON document: %w", err)
	}
	if string(d.Forecast) == "null" {
		return nil, fmt.Errorf("plan --json has no forecast: its \"forecast\" is null (pgferry %s made none: no rehearsal of this migration to scale, and no model of these servers)",
			d.ToolVersion)
	}
	if len(d.Forecast) == 0 {
		return nil, fmt.Errorf("plan --json has no forecast: the document (format_version %s, pgferry %s, status %s) has no \"forecast\" object; "+
			"this pgferry was built without issue 14's forecast (SPEC §7: \"forecast\": {\"seconds\", \"low_seconds\", \"high_seconds\", \"basis\", \"run\", \"critical_path\"})",
			d.FormatVersion, d.ToolVersion, d.Status)
	}
	var f planForecast
	if err := json.Unmarshal(d.Forecast, &f); err != nil {
		return nil, fmt.Errorf("plan --json has no forecast: its \"forecast\" is not the object SPEC §7 describes: %w", err)
	}
	switch {
	case f.Seconds <= 0:
		return nil, fmt.Errorf("plan --json has no forecast: \"seconds\" is %g", f.Seconds)
	case f.Basis != "model" && f.Basis != "rehearsal":
		return nil, fmt.Errorf("plan --json has no forecast: unknown basis %q (want \"model\" or \"rehearsal\")", f.Basis)
	case f.LowSeconds > f.Seconds || f.HighSeconds < f.Seconds:
		return nil, fmt.Errorf("plan --json's forecast: range %g–%g s does not hold its %g s", f.LowSeconds, f.HighSeconds, f.Seconds)
	}
	return &f, nil
}

// historyRun is one run of `history --json`, as far as the bench reads it.
type historyRun struct {
	ID              int                `json:"id"`
	Operation       string             `json:"operation"`
	Outcome         string             `json:"outcome"`
	DurationSeconds float64            `json:"duration_seconds"`
	ForecastSeconds *float64           `json:"forecast_seconds"`
	Phases          map[string]float64 `json:"phases"`
}

// latestRun is the newest run of a `history --json` document.
func latestRun(doc []byte) (*historyRun, error) {
	var d struct {
		Runs []historyRun `json:"runs"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(doc), &d); err != nil {
		return nil, fmt.Errorf("history --json is not a JSON document: %w", err)
	}
	if len(d.Runs) == 0 {
		return nil, fmt.Errorf("history --json lists no runs")
	}
	latest := &d.Runs[0]
	for i := range d.Runs {
		if d.Runs[i].ID > latest.ID {
			latest = &d.Runs[i]
		}
	}
	return latest, nil
}

// ForecastCase is one step's forecast against its apply.
type ForecastCase struct {
	Step      forecastStep
	Forecast  *planForecast
	PlanWall  time.Duration // `pgferry plan --json`, probe included
	ApplyWall time.Duration // the apply process, start to exit
	Run       *historyRun   // the apply's run, as history recorded it
	Server    *ServerWork   // what the target server did during the apply (nil: not measured)
	// PlanServer is what the target server did during `plan --json`: a model's probe (a cold
	// plan) works on it, a rehearsal's plan does not. A cold apply probes too, before its run:
	// about this much of the apply's target CPU is outside its run.
	PlanServer *ServerWork
	// Format is the largest table's COPY format as the plan chose it and as its apply sent it.
	Format copyFormatSeen
	Err    string // why the step has no result
}

// errorFrac is (forecast − actual) / actual: the "forecast within ±35% of the apply".
func (c *ForecastCase) errorFrac() (float64, bool) {
	if c.Forecast == nil || c.Run == nil || c.Run.DurationSeconds <= 0 {
		return 0, false
	}
	return (c.Forecast.Seconds - c.Run.DurationSeconds) / c.Run.DurationSeconds, true
}

// basisOK says whether the forecast had the basis (and run) the step wants.
func (c *ForecastCase) basisOK() bool {
	if c.Forecast == nil || c.Forecast.Basis != c.Step.WantBasis {
		return false
	}
	return c.Step.WantRun == 0 || (c.Forecast.Run != nil && *c.Forecast.Run == c.Step.WantRun)
}

// verdict is the step against its bar.
func (c *ForecastCase) verdict() string {
	if c.Err != "" {
		return "FAILED"
	}
	e, ok := c.errorFrac()
	if !ok {
		return "—"
	}
	bar := fmt.Sprintf("±%.0f%%", 100*c.Step.Bar)
	v := "meets " + bar
	if math.Abs(e) > c.Step.Bar+1e-9 {
		v = "MISSES " + bar
	}
	if !c.basisOK() {
		want := c.Step.WantBasis
		if c.Step.WantRun > 0 {
			want += fmt.Sprintf(" run %d", c.Step.WantRun)
		}
		v += " (basis should be " + want + ")"
	}
	return v
}

func (c *ForecastCase) basis() string {
	f := c.Forecast
	if f == nil {
		return "—"
	}
	if f.Run != nil {
		return fmt.Sprintf("%s (run %d)", f.Basis, *f.Run)
	}
	return f.Basis
}

// ForecastResult is the forecast bench's run.
type ForecastResult struct {
	Desc  string // the dataset
	Cases []*ForecastCase
	Err   string // why it stopped early ("": all steps ran)
}

// benchForecast runs the three steps. A step whose plan has no forecast fails, and its apply still
// runs (the next steps rehearse on it); a failed apply ends the bench. The result so far is
// returned with the error.
func benchForecast(ctx context.Context, e *env) (*ForecastResult, error) {
	fr := &ForecastResult{}
	err := forecastSteps3(ctx, e, fr)
	if err != nil {
		fr.Err = redact(err.Error())
		// A step the bench could not finish (a failed apply) fails too.
		if n := len(fr.Cases); n > 0 && fr.Cases[n-1].Run == nil && fr.Cases[n-1].Err == "" {
			fr.Cases[n-1].Err = fr.Err
		}
	}
	fmt.Println()
	fmt.Print(fr.Text())
	if err != nil {
		return fr, fmt.Errorf("forecast accuracy: %w", err)
	}
	return fr, nil
}

func forecastSteps3(ctx context.Context, e *env, fr *ForecastResult) error {
	if err := e.freshForecastSource(ctx); err != nil {
		return err
	}
	want, err := inventory(ctx, e.src, forecastDB, nil)
	if err != nil {
		return fmt.Errorf("counting the source's rows: %w", err)
	}
	var size int64
	if err := withConn(ctx, e.src, forecastDB, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size)
	}); err != nil {
		return err
	}
	var rows int64
	for _, n := range want.counts {
		rows += n
	}
	fr.Desc = fmt.Sprintf("%s + %d small tables (the many-tables set at factor %g) in one database: %s, %d tables, %s rows, %d indexes, %d foreign keys, %d views",
		fmt.Sprintf("pgbench -i -s %d --foreign-keys", e.o.forecastScale), manyTables, e.o.forecastManyFactor,
		bytesStr(size), want.tables, views3(int(rows)), want.indexes, want.fks, want.views)
	logf("forecast accuracy: %s", fr.Desc)
	dir := filepath.Join(e.work, "forecast")
	e.discard(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeConfig(e, dir, forecastDB, "none"); err != nil {
		return err
	}
	// A target database left by an earlier bench run (-keep) is moved aside.
	if _, err := e.retire(ctx, forecastDB, size); err != nil {
		return err
	}
	if err := warmWAL(ctx, e, 2*size); err != nil {
		return err
	}
	lastApply := 0
	var failed []string
	for i, step := range forecastSteps {
		c := &ForecastCase{Step: step}
		if step.WantBasis == "rehearsal" {
			c.Step.WantRun = lastApply
		}
		fr.Cases = append(fr.Cases, c)
		log := func(what string) string { return filepath.Join(e.logs, fmt.Sprintf("forecast-%d-%s.log", i+1, what)) }
		if i > 0 {
			if _, err := timed(ctx, pgferryCmd(e, dir, "destroy", "--auto-approve"), log("destroy")); err != nil {
				return fmt.Errorf("pgferry destroy before step %d: %w", i+1, err)
			}
		}
		if i == 2 {
			if err := growLargest(ctx, e); err != nil {
				return err
			}
			if want, err = inventory(ctx, e.src, forecastDB, nil); err != nil {
				return fmt.Errorf("counting the source's rows: %w", err)
			}
		}
		// A fresh target: no database, no checkpoint debt on either server, nothing in the page cache.
		for _, s := range []func(context.Context, string, string) error{e.tgt.Exec, e.src.Exec} {
			if err := s(ctx, "postgres", "CHECKPOINT"); err != nil {
				return err
			}
		}
		evict(e.work)
		var out bytes.Buffer
		cmd := pgferryCmd(e, dir, "plan", "--json")
		cmd.Stdout = &out
		planBefore := snapServer(e.tgt.DataDir())
		m, err := timed(ctx, cmd, log("plan"))
		if err != nil {
			return fmt.Errorf("step %d (%s): pgferry plan --json: %w", i+1, step.Case, err)
		}
		c.PlanWall = m.Wall
		c.PlanServer = snapServer(e.tgt.DataDir()).since(planBefore)
		os.WriteFile(log("plan")+".json", out.Bytes(), 0o644)
		c.Format = planCopyFormat(out.Bytes())
		if c.Forecast, err = parsePlanForecast(out.Bytes()); err != nil {
			// The step fails; its apply still runs: the next steps rehearse on it. The human plan
			// says why there is none.
			if why := planForecastLine(ctx, e, dir, log("plan-human")); why != "" {
				err = fmt.Errorf("%w; pgferry plan says %q", err, why)
			}
			c.Err = err.Error()
			failed = append(failed, fmt.Sprintf("step %d (%s): %s", i+1, step.Case, err))
			logf("forecast step %d (%s): FAILED: %s", i+1, step.Case, err)
		} else {
			logf("forecast step %d (%s): plan %s (target server: %s): forecast %.1f s (%.1f–%.1f s), basis %s; critical path %s",
				i+1, step.Case, secs(c.PlanWall), c.PlanServer, c.Forecast.Seconds, c.Forecast.LowSeconds, c.Forecast.HighSeconds, c.basis(),
				pathStr(c.Forecast.CriticalPath))
		}
		if err := forecastApply(ctx, e, dir, i, c, want, log); err != nil {
			return err
		}
		lastApply = c.Run.ID
		c.readApplyFormat(log("apply"))
		_, _, _, _, ef := c.cells()
		logf("forecast step %d (%s): apply run %d took %.1f s (process %s): forecast error %s: %s; target server: %s; %s copy format, plan/apply: %s (%.1f B a row)",
			i+1, step.Case, c.Run.ID, c.Run.DurationSeconds, secs(c.ApplyWall), ef, c.verdict(), c.Server, forecastLargest, c.formatCell(fr.prevFormat(i)), c.Format.ApplyRow)
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// forecastApply runs step i's apply, checks what it left on the target against want, and reads
// its run from history into c.
func forecastApply(ctx context.Context, e *env, dir string, i int, c *ForecastCase, want *expectation, log func(string) string) error {
	before := snapServer(e.tgt.DataDir())
	m, err := timed(ctx, pgferryCmd(e, dir, "apply", "--auto-approve"), log("apply"))
	if err != nil {
		return fmt.Errorf("step %d (%s): pgferry apply: %w", i+1, c.Step.Case, err)
	}
	c.ApplyWall = m.Wall
	c.Server = snapServer(e.tgt.DataDir()).since(before)
	got, err := inventory(ctx, e.tgt, forecastDB, nil)
	if err != nil {
		return fmt.Errorf("counting the target's rows: %w", err)
	}
	if err := want.check(got, false); err != nil {
		return fmt.Errorf("step %d: WRONG RESULT: %w\n(log: %s)", i+1, err, log("apply"))
	}
	var out bytes.Buffer
	cmd := pgferryCmd(e, dir, "history", "--json")
	cmd.Stdout = &out
	if _, err := timed(ctx, cmd, log("history")); err != nil {
		return fmt.Errorf("pgferry history --json: %w", err)
	}
	if c.Run, err = latestRun(out.Bytes()); err != nil {
		return err
	}
	if c.Run.Operation != "apply" || c.Run.Outcome != "Succeeded" {
		return fmt.Errorf("step %d: the latest run in history is %s %s (run %d), not the apply that just succeeded", i+1, c.Run.Operation, c.Run.Outcome, c.Run.ID)
	}
	return nil
}

// warmWAL gives the target cluster, which the bench made moments ago with initdb, the WAL segment
// files a target in service holds: enough to recycle for an apply that writes bytes of WAL (the
// migration writes about its database's size; twice that covers the grown step too), within
// max_wal_size, which recycling keeps to. Without them the first apply alone creates its segments,
// each written full of zeros and synced first (17 of 16 MB at pgbench scale 20: 282 MB, 42% more
// than the target wrote in the next apply of the same plan), and the forecast after one rehearsal
// is measured against an apply that does not. In the rehearsal loop only a new cluster's first
// apply pays that (every later one recycles what it left), and pgferry cannot tell from a run
// whether its target was new.
func warmWAL(ctx context.Context, e *env, bytes int64) error {
	rows, err := e.tgt.Query(ctx, "postgres", `SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'),
	(SELECT setting::bigint FROM pg_settings WHERE name = 'max_wal_size')`)
	if err != nil {
		return fmt.Errorf("warming the target's WAL: %w", err)
	}
	var seg, maxMB int64
	if len(rows) != 1 || len(rows[0]) != 2 {
		return fmt.Errorf("warming the target's WAL: no wal_segment_size")
	}
	fmt.Sscan(rows[0][0], &seg)
	fmt.Sscan(rows[0][1], &maxMB)
	if seg <= 0 || maxMB <= 0 {
		return fmt.Errorf("warming the target's WAL: wal_segment_size %q, max_wal_size %q", rows[0][0], rows[0][1])
	}
	n := min((bytes+seg-1)/seg, maxMB<<20/seg-1)
	// A record in each segment, then a switch to the next: the server creates every segment the
	// way an apply would, without writing the data; the checkpoint then keeps them for recycling.
	start := time.Now()
	before := snapServer(e.tgt.DataDir())
	err = e.tgt.Exec(ctx, "postgres", fmt.Sprintf(`DO $$BEGIN FOR i IN 1..%d LOOP
	PERFORM pg_logical_emit_message(false, 'pgferry-bench', 'warm'); PERFORM pg_switch_wal();
END LOOP; END$$; CHECKPOINT`, n))
	if err != nil {
		return fmt.Errorf("warming the target's WAL: %w", err)
	}
	logf("forecast: the target's WAL warmed in %s: %d segments switched through (%s)", time.Since(start).Round(time.Millisecond), n,
		snapServer(e.tgt.DataDir()).since(before))
	return nil
}

// planForecastLine is the "Forecast:" line of the human `pgferry plan` ("" when it has none).
func planForecastLine(ctx context.Context, e *env, dir, log string) string {
	timed(ctx, pgferryCmd(e, dir, "plan"), log)
	b, _ := os.ReadFile(log)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Forecast:") {
			return redact(strings.TrimSpace(l))
		}
	}
	return ""
}

// freshForecastSource makes the source database the steps migrate: a copy of the dataset as
// generated. A copy left by an earlier run is renamed, not dropped (see retire), and dropped at the end.
func (e *env) freshForecastSource(ctx context.Context) error {
	rows, err := e.src.Query(ctx, "postgres", fmt.Sprintf("SELECT 1 FROM pg_database WHERE datname = '%s'", forecastDB))
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		old := fmt.Sprintf("%s_old_%d", forecastDB, time.Now().Unix())
		if err := e.src.Exec(ctx, "postgres", fmt.Sprintf("ALTER DATABASE %s RENAME TO %s; ALTER DATABASE %[2]s ALLOW_CONNECTIONS false", forecastDB, old)); err != nil {
			return err
		}
		e.srcKept = append(e.srcKept, old)
	}
	return e.src.Exec(ctx, "postgres", fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", forecastDB, forecastBase))
}

// growLargest inserts half as many rows again into pgbench_accounts, with new keys (the rows of
// the first half, shifted past the largest key), then ANALYZE: the source a month later.
func growLargest(ctx context.Context, e *env) error {
	start := time.Now()
	err := e.src.Exec(ctx, forecastDB, `INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
SELECT a.aid + m.top, a.bid, a.abalance, a.filler
FROM pgbench_accounts a, (SELECT max(aid) AS top, count(*) AS n FROM pgbench_accounts) m
WHERE a.aid <= m.n / 2;
ANALYZE pgbench_accounts`)
	if err != nil {
		return fmt.Errorf("growing pgbench_accounts by half: %w", err)
	}
	logf("forecast: pgbench_accounts grown by half on the source in %s", time.Since(start).Round(time.Second))
	return nil
}

// generateForecast creates the template database: pgbench and the 200 small tables side by side.
func generateForecast(ctx context.Context, e *env) error {
	logf("generating the forecast dataset: pgbench -i -s %d --foreign-keys + %d small tables (factor %g)",
		e.o.forecastScale, manyTables, e.o.forecastManyFactor)
	if err := e.src.Exec(ctx, "postgres", "CREATE DATABASE "+forecastBase); err != nil {
		return err
	}
	if err := pgbenchInit(ctx, e, forecastBase, e.o.forecastScale, "generate-forecast.log"); err != nil {
		return err
	}
	for _, stmt := range manySQL(e.o.forecastManyFactor) {
		if err := e.src.Exec(ctx, forecastBase, stmt); err != nil {
			return fmt.Errorf("forecast dataset: %w\n%s", err, clip(stmt, 400))
		}
	}
	return e.src.Exec(ctx, forecastBase, "VACUUM ANALYZE")
}

// pathStr is a critical path, its middle left out when long.
func pathStr(path []string) string {
	const head = 6
	if len(path) <= head+2 {
		return strings.Join(path, " → ")
	}
	return fmt.Sprintf("%s → … (%d more) → %s", strings.Join(path[:head], " → "), len(path)-head-1, path[len(path)-1])
}

func pct(f float64) string { return fmt.Sprintf("%+.1f%%", 100*f) }

func (c *ForecastCase) cells() (forecast, rng, recorded, actual, errStr string) {
	forecast, rng, recorded, actual, errStr = "—", "—", "—", "—", "—"
	if f := c.Forecast; f != nil {
		forecast = fmt.Sprintf("%.1f s", f.Seconds)
		rng = fmt.Sprintf("%.1f–%.1f s", f.LowSeconds, f.HighSeconds)
	}
	if r := c.Run; r != nil {
		actual = fmt.Sprintf("%.1f s", r.DurationSeconds)
		if r.ForecastSeconds != nil {
			recorded = fmt.Sprintf("%.1f s", *r.ForecastSeconds)
		}
	}
	if e, ok := c.errorFrac(); ok {
		errStr = pct(e)
	}
	return
}

// Text is the forecast table for the terminal.
func (fr *ForecastResult) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "== forecast accuracy: %s\n", fr.Desc)
	fmt.Fprintf(&b, "%-30s %-18s %9s %13s %9s %9s %8s %9s %9s %-14s %s\n", "case", "basis", "forecast", "range", "recorded", "actual", "error", "plan", "process", "format", "target")
	for i, c := range fr.Cases {
		f, r, rec, a, e := c.cells()
		fmt.Fprintf(&b, "%-30s %-18s %9s %13s %9s %9s %8s %9s %9s %-14s %s\n", c.Step.Case, c.basis(), f, r, rec, a, e, secs(c.PlanWall), secs(c.ApplyWall),
			c.formatCell(fr.prevFormat(i)), c.verdict())
	}
	fmt.Fprintf(&b, "format: the COPY format of %s, as the plan chose it / as its apply sent it (by its bytes a row); \"!\": a change between them or from the last apply\n", forecastLargest)
	for _, c := range fr.Cases {
		if c.PlanServer != nil {
			fmt.Fprintf(&b, "target server during plan --json, %s: %s\n", c.Step.Case, c.PlanServer)
		}
		if c.Server != nil {
			fmt.Fprintf(&b, "target server during the apply, %s: %s\n", c.Step.Case, c.Server)
		}
	}
	if fr.Err != "" {
		fmt.Fprintf(&b, "FAILED: %s\n", fr.Err)
	}
	return b.String()
}

const (
	forecastHeading    = "\n## Forecast accuracy"
	forecastRunHeading = "\n### Forecast run of "
)

const forecastMethod = `
How close ` + "`pgferry plan`" + `'s forecast of apply's wall time comes to the apply (issue 14, SPEC §7), measured by
` + "`make bench`" + ` (alone: ` + "`make bench-forecast`" + `) on the bench's full-durability clusters: one source database holding
` + "`pgbench -i --foreign-keys`" + ` (scale ` + "`FORECAST_SCALE`" + `, default 20) and the many-tables set's 200 tables at a tenth of their
rows. One migration and one state directory go through a user's rehearsal loop, each apply on a fresh target
(no database, both servers checkpointed). The target cluster is new, made with initdb, but holds WAL to recycle
as a target in service does (twice the database's size switched through and checkpointed first, untimed): on a
cluster that never held it, the first apply alone would create its WAL segment files, writing each full of zeros
first (282 MB more than the next apply of the same plan wrote), which no later apply of the loop pays. Below the
table, each apply's target server: its CPU time, the bytes it wrote, its minor page faults, the WAL segments it
created. The last column is pgbench_accounts' COPY format as the plan chose it and as its apply sent it (told by its
bytes a row): copy_format "auto" chooses again in every plan, apply's own too, and on this loopback both of its
measures (the link and the source's COPY pace) are bound by CPU, so it goes either way; text took 2–2.5 times as
long as binary here. "!" marks a change between plan and apply or from the apply before. Steps: (1) cold: ` + "`plan --json`" + ` (basis "model": the servers measured at plan
time), ` + "`apply -auto-approve`" + `; (2) ` + "`destroy`" + `, ` + "`plan --json`" + ` (basis "rehearsal": run 1), apply; (3) ` + "`destroy`" + `,
pgbench_accounts grown by half on the source (new keys, ANALYZE), ` + "`plan --json`" + `, apply. The actual is the apply
run's ` + "`duration_seconds`" + ` in ` + "`history --json`" + ` ("recorded" is the forecast apply itself recorded there; "plan
--json" is the plan's wall time, measurements included, "apply process" the apply command's, start to exit); the error
is (forecast − actual) / actual, the bars ±35%, ±15% and ±20% (issue 14's acceptance). ` + "`destroy`" + ` drops the target
database, as in a user's rehearsal; on this machine's ext4 without a journal, creating files soon after deleting
many is slower (see the Notes), which the applies after a destroy pay and the bench does not hide. The last four
runs are kept here, newest first.
`

// forecastMarkdown is the forecast section of docs/benchmarks.md.
func (rep *Report) forecastMarkdown(cmd string) string {
	fr := rep.Forecast
	var b strings.Builder
	b.WriteString(forecastHeading + "\n")
	b.WriteString(forecastMethod)
	m := rep.Machine
	fmt.Fprintf(&b, "%s%s\n\n", forecastRunHeading, m.Date)
	fmt.Fprintf(&b, "%s. Measured on %d × %s under load from other work on the machine: load average (1, 5, 15 min) %s at the start, "+
		"%s at the end. %s; pgferry %s; jobs %d.\n\n", fr.Desc, m.CPUs, m.CPU, m.LoadStart, m.LoadEnd, m.PostgreSQL, m.Pgferry, rep.Options.jobs)
	fmt.Fprintf(&b, "Command: `%s`\n\n", cmd)
	b.WriteString("| case | basis | forecast | range | recorded | actual | error | within target? | plan --json | apply process | largest copy's format, plan/apply |\n|---|---|---:|---|---:|---:|---:|---|---:|---:|---|\n")
	for i, c := range fr.Cases {
		f, r, rec, a, e := c.cells()
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Step.Case, c.basis(), f, r, rec, a, e, c.verdict(),
			secs(c.PlanWall), secs(c.ApplyWall), c.formatCell(fr.prevFormat(i)))
	}
	for _, c := range fr.Cases {
		if c.PlanServer != nil {
			fmt.Fprintf(&b, "\nTarget server during plan --json, %s: %s.\n", c.Step.Case, c.PlanServer)
		}
		if c.Server != nil {
			fmt.Fprintf(&b, "\nTarget server during the apply, %s: %s.\n", c.Step.Case, c.Server)
		}
	}
	for _, c := range fr.Cases {
		if c.Forecast != nil && len(c.Forecast.CriticalPath) > 0 {
			fmt.Fprintf(&b, "\nCritical path, %s: %s.\n", c.Step.Case, mdEsc(pathStr(c.Forecast.CriticalPath)))
		}
	}
	if fr.Err != "" {
		fmt.Fprintf(&b, "\n**FAILED:** %s\n", strings.ReplaceAll(fr.Err, "\n", " "))
	}
	return b.String()
}
