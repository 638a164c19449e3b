package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Machine describes where the numbers were measured.
type Machine struct {
	Date, CPU, Kernel, PostgreSQL, PgDump, Pgcopydb, Pgferry string
	CPUs                                                     int
	// LoadStart and LoadEnd are /proc/loadavg when the runs began and ended:
	// other work on the machine skews the numbers.
	LoadStart, LoadEnd string
	MemBytes           int64
	Conf               []string
}

func describeMachine(ctx context.Context, e *env) Machine {
	m := Machine{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb)
			}
		}
		m.MemBytes = kb * 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if rows, err := e.src.Query(ctx, "postgres", "SELECT version()"); err == nil && len(rows) > 0 {
		m.PostgreSQL = rows[0][0]
	}
	first := func(name string, args ...string) string {
		// Standard output only: pgcopydb logs to standard error.
		out, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil && len(out) == 0 {
			return "unavailable"
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 2 {
			lines = lines[:2]
		}
		return strings.Join(lines, "; ")
	}
	m.PgDump = first(filepath.Join(e.bin, "pg_dump"), "--version")
	m.Pgcopydb = "not installed"
	if e.pgcopydb != "" {
		m.Pgcopydb = first(e.pgcopydb, "--version")
	}
	m.Pgferry = first(e.pgferry, "version")
	// The harness's defaults come first and later settings win: keep the last of each.
	last := map[string]string{}
	var keys []string
	for _, s := range e.src.Conf {
		switch s.Key {
		case "fsync", "full_page_writes", "synchronous_commit", "shared_buffers", "max_connections", "max_locks_per_transaction":
			if _, ok := last[s.Key]; !ok {
				keys = append(keys, s.Key)
			}
			last[s.Key] = s.Value
		}
	}
	for _, k := range keys {
		m.Conf = append(m.Conf, k+"="+last[k])
	}
	return m
}

// Report is a whole bench run.
type Report struct {
	Machine  Machine
	Options  options
	Plan     *PlanResult
	Datasets []*DatasetResult
	GoBench  string
	// Field is the field modes' cases (bench/field.go), nil when none ran.
	Field []*FieldResult
	// Forecast is the forecast-accuracy bench (bench/forecast.go), nil when it did not run.
	Forecast *ForecastResult
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (t *toolResult) wall() time.Duration {
	var ds []time.Duration
	for _, r := range t.Runs {
		ds = append(ds, r.Wall)
	}
	return median(ds)
}

func (t *toolResult) field(f func(runResult) time.Duration) time.Duration {
	var ds []time.Duration
	for _, r := range t.Runs {
		ds = append(ds, f(r))
	}
	return median(ds)
}

// peak is the largest peak RSS over the runs (single process, and tree sum).
func (t *toolResult) peak() (int64, int64) {
	var p, tree int64
	for _, r := range t.Runs {
		p, tree = max(p, r.MaxRSS), max(tree, r.TreeRSS)
	}
	return p, tree
}

func (d *DatasetResult) tool(id string) *toolResult {
	for _, t := range d.Tools {
		if t.ID == id && len(t.Runs) > 0 {
			return t
		}
	}
	return nil
}

// bestDump is the fastest pg_dump/pg_restore variant by median.
func (d *DatasetResult) bestDump() *toolResult {
	var best *toolResult
	for _, id := range []string{"fd", "fd-z0", "fc", "fc-z0"} {
		if t := d.tool(id); t != nil && (best == nil || t.wall() < best.wall()) {
			best = t
		}
	}
	return best
}

// ratio is one "pgferry / other" comparison with the bar.
type ratio struct {
	Label string
	Value float64
	Bar   float64 // 0: none
	Note  string
}

func (d *DatasetResult) ratios() []ratio {
	pf := d.tool("pgferry")
	if pf == nil {
		return nil
	}
	var out []ratio
	bars := map[string]map[string]float64{
		"pgbench": {"pgcopydb": 0.75, "dump": 0.85, "floor": 1.1},
		"many":    {"pgcopydb": 0.35, "dump": 0.8},
	}[d.Name]
	if t := d.tool("pgcopydb"); t != nil {
		out = append(out, ratio{Label: "pgferry / pgcopydb", Value: pf.wall().Seconds() / t.wall().Seconds(), Bar: bars["pgcopydb"]})
	}
	if t := d.bestDump(); t != nil {
		out = append(out, ratio{Label: "pgferry / best pg_dump (" + t.Name + ")", Value: pf.wall().Seconds() / t.wall().Seconds(), Bar: bars["dump"]})
	}
	if t := d.tool("fd-z0-analyze"); t != nil {
		// Not a bar: the like-for-like comparison, as pgferry's apply runs ANALYZE and pg_restore does not.
		out = append(out, ratio{Label: "pgferry / (" + t.Name + "), both with statistics", Value: pf.wall().Seconds() / t.wall().Seconds()})
	}
	if t := d.tool("floor"); t != nil {
		out = append(out, ratio{Label: "pgferry / floor", Value: pf.wall().Seconds() / t.wall().Seconds(), Bar: bars["floor"],
			Note: "the bar applies at pgbench -s 200"})
	}
	p, _ := pf.peak()
	out = append(out, ratio{Label: "pgferry peak RSS (MB)", Value: float64(p) / (1 << 20), Bar: 64})
	return out
}

func (r ratio) verdict() string {
	if r.Bar == 0 {
		return ""
	}
	if r.Value <= r.Bar {
		return "meets ≤ " + trimFloat(r.Bar)
	}
	return "MISSES ≤ " + trimFloat(r.Bar)
}

func trimFloat(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

func secs(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func bytesStr(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	case n > 0:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return "—"
}

func (d *DatasetResult) title() string {
	return fmt.Sprintf("%s: %s, %d tables, %s rows, %d indexes, %d foreign keys, %d views",
		d.Desc, bytesStr(d.Size), d.Tables, views3(int(d.Rows)), d.Indexes, d.FKs, d.Views)
}

// Text is the dataset's table for the terminal.
func (d *DatasetResult) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", d.title())
	fmt.Fprintf(&b, "%-40s %10s %10s %12s %s\n", "tool", "median", "peak RSS", "tree PSS", "runs")
	for _, t := range d.Tools {
		p, tree := t.peak()
		var runs []string
		for _, r := range t.Runs {
			runs = append(runs, fmt.Sprintf("%.1f", r.Wall.Seconds()))
		}
		fmt.Fprintf(&b, "%-40s %10s %10s %12s %s\n", t.Name, secs(t.wall()), bytesStr(p), bytesStr(tree), strings.Join(runs, " "))
	}
	if pf := d.tool("pgferry"); pf != nil && (pf.Runs[0].VerifyCount > 0 || pf.Runs[0].VerifyChecksum > 0) {
		fmt.Fprintf(&b, "%-40s %10s\n", "  pgferry verify --mode count", secs(pf.field(func(r runResult) time.Duration { return r.VerifyCount })))
		fmt.Fprintf(&b, "%-40s %10s\n", "  pgferry verify --mode checksum", secs(pf.field(func(r runResult) time.Duration { return r.VerifyChecksum })))
	}
	for _, r := range d.ratios() {
		fmt.Fprintf(&b, "%-40s %10.2f  %s\n", r.Label, r.Value, r.verdict())
	}
	return b.String()
}

// Text is the closing summary for the terminal.
func (rep *Report) Text() string {
	var b strings.Builder
	if rep.Plan != nil {
		p := rep.Plan
		fmt.Fprintf(&b, "pgferry plan over %d tables: median %s, peak RSS %s\n", p.Tables, secs(p.median()), bytesStr(p.peak()))
	}
	if rep.GoBench != "" {
		fmt.Fprintf(&b, "%s\n", rep.GoBench)
	}
	return b.String()
}

func (p *PlanResult) median() time.Duration {
	var ds []time.Duration
	for _, m := range p.Runs {
		ds = append(ds, m.Wall)
	}
	return median(ds)
}

func (p *PlanResult) peak() int64 {
	var x int64
	for _, m := range p.Runs {
		x = max(x, m.MaxRSS)
	}
	return x
}

const method = `# Benchmarks

` + "`make bench`" + ` (scripts/bench.sh → bench/) measures how long a whole-database migration takes with pgferry and
with the tools people would otherwise use, on the same machine, the same data and in the same run. This file is
written by it; the numbers below are from the last run (a "Notes" section at the end is kept across runs).

**Method.**
- Two throwaway PostgreSQL clusters on loopback (internal/pgtest), source and target, same major, with full
  durability: ` + "`fsync=on`, `full_page_writes=on`, `synchronous_commit=on`" + `, PostgreSQL's default
  ` + "`shared_buffers`" + ` (128MB), ` + "`max_locks_per_transaction = 512`" + ` (pg_dump of 10,000 tables needs it),
  everything else default.
- Datasets, generated on the source: ` + "`pgbench -i -s SCALE --foreign-keys`" + `, and a deterministic many-tables set
  (bench/datasets.go: 200 tables in two schemas with varied column types — numeric, text, jsonb, inet, arrays,
  uuid, bytea, date/time, intervals —, 534 indexes including a GIN and a partial one, 79 foreign keys, 20 views).
- Each tool moves the database to a fresh target: the previous run's target database is renamed out of the way
  (and both servers checkpointed) before every run. Every tool's time includes creating the target database,
  through the same link: pgferry creates its own; the others' timed script starts with ` + "`psql -c 'CREATE DATABASE …'`" + `,
  what a DBA runs before pg_restore or pgcopydb on a new target (until 2026-12-05 it was created untimed for them). Nothing is deleted while the bench measures (databases, dumps and old clusters are removed
  at the end; a database is dropped only when the disk runs short): on ext4 without a journal, creating files
  for minutes after deleting thousands is slow (PostgreSQL spent a quarter of its CPU time in inode allocation
  after each DROP DATABASE), which no real target does.
  Tools run alternately, the order rotated every round; the median of the runs is reported.
  Only ratios taken in one run are meaningful: on shared 2-core machines runs vary by up to ±30%.
- Every run is checked: exact row counts of every table, and the numbers of indexes, foreign keys and views, must
  match the source, or the bench fails. After each pgferry run, ` + "`pgferry verify --mode count`" + ` and
  ` + "`--mode checksum`" + ` (row contents) also run and must pass; their times are reported apart from the copy.
- pgferry runs as ` + "`pgferry apply --auto-approve --jobs 2`" + ` with ` + "`verify = \"none\"`" + `, ` + "`roles = false`" + ` and a fresh
  state directory each run; pgcopydb as ` + "`pgcopydb clone --table-jobs 2 --index-jobs 2`" + ` (it also runs VACUUM
  ANALYZE, as pgferry runs ANALYZE; pg_restore runs neither); pg_dump -Fd variants dump to a directory, then
  restore from it (both timed); the -Fc variants pipe pg_dump into a single-job pg_restore. One more variant
  adds ` + "`vacuumdb -Z -j2`" + ` (ANALYZE) after pg_restore, for the like-for-like ratio: it is not one of the
  "pg_dump variants" the bars compare with.
- Floor (pgbench only): what moving the largest table costs at best — one text COPY stream
  (` + "`psql -c 'COPY … TO STDOUT' | psql -c 'COPY … FROM STDIN'`" + `) into the table, then its primary key; timed
  with creating the database and the empty table (its definition is dumped untimed).
- Wall time is the tool's process from start to exit. Peak RSS is the largest resident set of any single
  process of the tool's process tree (` + "`ru_maxrss`" + ` of the tool and its reaped descendants, what
  ` + "`/usr/bin/time -v`" + ` reports); "tree PSS" is the largest sum over the whole tree of the processes' proportional set sizes
  (shared pages divided among the processes sharing them), sampled every 100 ms.
  Server memory is not counted for any tool.
- ` + "`pgferry plan`" + ` is timed against a source database of 10,000 small tables (each with a primary key, one more
  index and one row; every tenth with a foreign key), with no state; and ` + "`go test -bench . ./plan`" + ` times plan
  construction and rendering alone over a synthetic 10,000-table catalog (plan/bench_test.go).
- Reproduce: ` + "`make bench`" + ` (defaults ` + "`SCALE=50 RUNS=3`" + `); ` + "`make bench SCALE=5 RUNS=1`" + ` for a quick check;
  ` + "`BENCH_FLAGS='-reuse'`" + ` keeps the source cluster between invocations; ` + "`go run ./bench -h`" + ` lists the flags.

The bar (issue 5), as ratios of medians in one run: on the pgbench set pgferry ≤ 0.75× pgcopydb and ≤ 0.85× the
best pg_dump variant; on the many-tables set ≤ 0.8× the best pg_dump variant and ≤ 0.35× pgcopydb; peak RSS of
pgferry ≤ 64 MB on both; ≤ 1.1× the floor on pgbench -s 200; ` + "`plan`" + ` over 10,000 tables in ≤ 5 s.
`

// Markdown is docs/benchmarks.md.
func (rep *Report) Markdown() string {
	var b strings.Builder
	b.WriteString(method)
	m := rep.Machine
	fmt.Fprintf(&b, "\n## Last run: %s\n\n", m.Date)
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPUs (nproc) | %d × %s |\n", m.CPUs, m.CPU)
	fmt.Fprintf(&b, "| memory | %s |\n", bytesStr(m.MemBytes))
	fmt.Fprintf(&b, "| kernel | Linux %s |\n", m.Kernel)
	fmt.Fprintf(&b, "| PostgreSQL | %s |\n", m.PostgreSQL)
	fmt.Fprintf(&b, "| pg_dump | %s |\n", m.PgDump)
	fmt.Fprintf(&b, "| pgcopydb | %s |\n", m.Pgcopydb)
	fmt.Fprintf(&b, "| pgferry | %s |\n", m.Pgferry)
	fmt.Fprintf(&b, "| server settings | %s |\n", strings.Join(m.Conf, ", "))
	fmt.Fprintf(&b, "| runs per tool | %d (jobs %d) |\n", rep.Options.runs, rep.Options.jobs)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) | %s at the start, %s at the end |\n", m.LoadStart, m.LoadEnd)
	if m.Pgcopydb == "not installed" {
		b.WriteString("\npgcopydb was not available on this machine (no Debian package): its column is skipped.\n")
	}
	for _, d := range rep.Datasets {
		fmt.Fprintf(&b, "\n### %s\n\n", d.title())
		b.WriteString("| tool | median wall | peak RSS | tree PSS | runs (s) |\n|---|---:|---:|---:|---|\n")
		for _, t := range d.Tools {
			p, tree := t.peak()
			var runs []string
			for _, r := range t.Runs {
				runs = append(runs, fmt.Sprintf("%.1f", r.Wall.Seconds()))
			}
			name := t.Name
			if t.ID == "pgferry" {
				name = "**" + name + "**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdEsc(name), secs(t.wall()), bytesStr(p), bytesStr(tree), strings.Join(runs, ", "))
		}
		if pf := d.tool("pgferry"); pf != nil {
			vc := pf.field(func(r runResult) time.Duration { return r.VerifyCount })
			vs := pf.field(func(r runResult) time.Duration { return r.VerifyChecksum })
			if vc > 0 || vs > 0 {
				fmt.Fprintf(&b, "| pgferry verify --mode count (after apply) | %s | | | |\n", secs(vc))
				fmt.Fprintf(&b, "| pgferry verify --mode checksum (after apply) | %s | | | |\n", secs(vs))
			}
		}
		if rs := d.ratios(); len(rs) > 0 {
			b.WriteString("\n| ratio | value | bar |\n|---|---:|---|\n")
			for _, r := range rs {
				v := r.verdict()
				if r.Note != "" {
					v += " (" + r.Note + ")"
				}
				fmt.Fprintf(&b, "| %s | %.2f | %s |\n", mdEsc(r.Label), r.Value, v)
			}
		}
		if pf := d.tool("pgferry"); pf != nil {
			// The phases of the run closest to the median.
			best := pf.Runs[0]
			med := pf.wall()
			for _, r := range pf.Runs {
				if absDur(r.Wall-med) < absDur(best.Wall-med) {
					best = r
				}
			}
			if best.Phases != "" {
				fmt.Fprintf(&b, "\npgferry apply's own timing (median run):\n\n```\n%s\n```\n", best.Phases)
			}
		}
	}
	if rep.Plan != nil {
		p := rep.Plan
		var runs []string
		for _, r := range p.Runs {
			runs = append(runs, fmt.Sprintf("%.2f", r.Wall.Seconds()))
		}
		verdict := "meets ≤ 5 s"
		if p.median() > 5*time.Second {
			verdict = "MISSES ≤ 5 s"
		}
		fmt.Fprintf(&b, "\n### pgferry plan over %d tables\n\n", p.Tables)
		fmt.Fprintf(&b, "| | median wall | peak RSS | runs (s) | bar |\n|---|---:|---:|---|---|\n")
		fmt.Fprintf(&b, "| `pgferry plan` (catalog reads, validations, plan, rendering) | %s | %s | %s | %s |\n",
			fmt.Sprintf("%.2f s", p.median().Seconds()), bytesStr(p.peak()), strings.Join(runs, ", "), verdict)
		if p.Output != "" {
			fmt.Fprintf(&b, "\n`%s`\n", strings.TrimSpace(p.Output))
		}
	}
	if rep.GoBench != "" {
		fmt.Fprintf(&b, "\n### Go benchmarks (`go test -run '^$' -bench . -benchmem ./plan`, %s)\n\n```\n%s\n```\n", runtime.Version(), rep.GoBench)
	}
	return b.String()
}

func mdEsc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
