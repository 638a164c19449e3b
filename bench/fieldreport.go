package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// docs/benchmarks.md has four parts: the loopback method and results (rep.Markdown), the
// forecast-accuracy section (bench/forecast.go), the field modes' section, and hand-written notes.
// A run rewrites the parts it measured and keeps the others as they were, so that `make bench`,
// `make bench-forecast` and `make bench-field` can run apart. Field and forecast runs are kept:
// each section holds its last keptFieldRuns runs, newest first, each under its dated heading.
const (
	fieldHeading    = "\n## In the field"
	fieldRunHeading = "\n### Field run of "
	notesHeading    = "\n## Notes"
	keptFieldRuns   = 4
)

// splitReport cuts a previous report into its loopback, forecast, field and notes parts.
func splitReport(old string) (loopback, forecast, field, notes string) {
	rest := old
	if i := strings.Index(rest, notesHeading); i >= 0 {
		rest, notes = rest[:i], rest[i:]
	}
	if i := strings.Index(rest, fieldHeading); i >= 0 {
		rest, field = rest[:i], rest[i:]
	}
	if i := strings.Index(rest, forecastHeading); i >= 0 {
		rest, forecast = rest[:i], rest[i:]
	}
	return rest, forecast, field, notes
}

// mergeReport is the new docs/benchmarks.md: the parts rep measured, new; the others from old.
func mergeReport(old string, rep *Report) string {
	loopback, forecast, field, notes := splitReport(old)
	if len(rep.Datasets) > 0 || rep.Plan != nil || rep.GoBench != "" || loopback == "" {
		loopback = rep.Markdown()
	}
	if rep.Forecast != nil {
		forecast = rep.forecastMarkdown(commandLine()) + earlierRuns(forecast, forecastRunHeading, keptFieldRuns-1)
	}
	if rep.Field != nil {
		field = rep.fieldMarkdown(commandLine()) + earlierRuns(field, fieldRunHeading, keptFieldRuns-1)
	}
	return strings.TrimRight(loopback, "\n") + "\n" + forecast + field + notes
}

// earlierRuns is the first n dated runs (each under heading) of a previous section.
func earlierRuns(section, heading string, n int) string {
	h := heading[1:]
	var b strings.Builder
	rest := section
	for k := 0; k < n; k++ {
		i := strings.Index(rest, heading)
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		run := rest
		if end := strings.Index(rest[len(h):], heading); end >= 0 {
			run = rest[:len(h)+end]
		}
		b.WriteString("\n" + strings.TrimRight(run, "\n") + "\n")
		rest = rest[len(run):]
	}
	return b.String()
}

// commandLine is how the bench was started, secrets redacted.
func commandLine() string {
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"") {
			args[i] = sq(a)
		}
	}
	return redact(strings.Join(args, " "))
}

const fieldMethod = `
Real migrations cross a network and real databases have thousands of tables (issue 15). ` + "`make bench-field`" + `
(` + "`-field DATASET@MODE,…`" + `) moves each dataset with every tool side by side in one run, through a
[Toxiproxy](https://github.com/Shopify/toxiproxy) proxy that the bench runs in-process on loopback (its Go
packages): every tool connects through it, the bench's own checks go straight to the servers. Modes:
` + "`target-latency`" + ` and ` + "`source-latency`" + ` add half of ` + "`-rtt`" + ` (default 20 ms) to each direction of that link (toxiproxy
delays every chunk by its latency: a round trip gains twice as much), ` + "`bandwidth`" + ` caps each direction of the
target's link at ` + "`-bandwidth`" + ` MB/s (default 20), ` + "`none`" + ` goes through the proxy with nothing injected,
` + "`target-pg18`" + ` moves to a third cluster, PostgreSQL 18 (from the source's major, ` + "`-major`" + `, 15 by default; through the
proxy, nothing injected), where the peers are pg_dump and pg_restore 18 and two more run: ` + "`vacuumdb -Z`" + ` after the
restore (ANALYZE), and ` + "`pg_dump --statistics`" + ` with the statistics restored last (` + "`pg_restore --statistics-only`" + `). The
"analyze" column is the statistics step's wall time: pgferry's analyze phase (` + "`history --json`" + `), vacuumdb's, or the
statistics-only restore's; "pg_stats rows" counts the target's statistics of user tables' columns after the run (the
source's count is given with the case). The
round trip through the proxy is measured before each case (median of 20 ` + "`SELECT 1`" + ` on one connection) and
shown with the direct one. Datasets: ` + "`many`" + ` (200 tables / 534 indexes, as above), ` + "`tinyN`" + ` (N tiny tables:
primary key, one more index, one row, every tenth with a foreign key), ` + "`pgbench`" + ` (` + "`pgbench -i -s SCALE`" + `).
Tools: pgferry apply, ` + "`pg_dump -Fd -j2`" + ` + ` + "`pg_restore -j2`" + `, ` + "`pg_dump -Fc | pg_restore`" + ` and pgcopydb when installed (not on
catalogs of 5,000 tables or more: it was killed for out-of-memory at 21.6 GB on 20,000). pgferry's verify runs
are left out (they would cross the slow link too); the bench's exact row, index, foreign-key and view counts check
every run. Ratio is to the best peer (the fastest tool other than pgferry) by median; CPU is user + system time
of the tool's whole process tree; peak RSS as above. The bar column is issue 15's acceptance where it sets one:
at 20 ms to the target ≤ 0.35× the best peer; 20,000 tables ≤ 0.8× ` + "`pg_dump -Fc | pg_restore`" + ` and pgferry's peak
RSS ≤ 150 MB; under the cap ≤ 1.0× the best peer; on PostgreSQL 18 the analyze phase ≤ 0.2× the same dataset's on
the bench's own target (its ` + "`none`" + ` case in the same run). The last four field runs are kept here, newest first.
`

// fieldMarkdown is the field modes' section of docs/benchmarks.md.
func (rep *Report) fieldMarkdown(cmd string) string {
	var b strings.Builder
	b.WriteString(fieldHeading + "\n")
	b.WriteString(fieldMethod)
	m := rep.Machine
	fmt.Fprintf(&b, "%s%s\n\n", fieldRunHeading, m.Date)
	fmt.Fprintf(&b, "Measured on %d × %s, %s, under load from other work on the machine: load average (1, 5, 15 min) "+
		"%s at the start, %s at the end. %s; pg_dump %s; pgcopydb %s; pgferry %s. Medians of %d run(s), jobs %d.\n\n",
		m.CPUs, m.CPU, bytesStr(m.MemBytes), m.LoadStart, m.LoadEnd, m.PostgreSQL, m.PgDump, m.Pgcopydb, m.Pgferry,
		rep.Options.runs, rep.Options.jobs)
	fmt.Fprintf(&b, "Command: `%s`\n\n", cmd)
	b.WriteString("| case | RTT measured | pgferry | best peer | ratio | pgferry peak RSS, CPU | peer peak RSS, CPU | issue 15's bar |\n|---|---:|---:|---|---:|---|---|---|\n")
	for _, fr := range rep.Field {
		var self, peer *fieldRow
		rows := fr.rows()
		for i := range rows {
			if rows[i].IsSelf {
				self = &rows[i]
			}
			if rows[i].Best {
				peer = &rows[i]
			}
		}
		cell := func(r *fieldRow, name bool) (wall, mem string) {
			if r == nil {
				return "—", "—"
			}
			wall = secs(r.Wall)
			if name {
				wall = mdEsc(r.Name) + " " + wall
			}
			return wall, bytesStr(r.RSS) + ", " + secs(r.CPU)
		}
		sw, sm := cell(self, false)
		pw, pm := cell(peer, true)
		ratio := "—"
		if self != nil && self.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", self.Ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", fr.label(), ms(fr.RTT), sw, pw, ratio, sm, pm, mdEsc(fr.bar(rep.Field)))
	}
	for _, fr := range rep.Field {
		fmt.Fprintf(&b, "\n#### %s: %s\n\n", fr.Case, fr.Result.title())
		fmt.Fprintf(&b, "Proxy in front of the %s%s; RTT measured %s through it, %s direct%s.\n\n",
			fr.Side, strings.TrimPrefix(fr.injected(), ";"), ms(fr.RTT), ms(fr.DirectRTT), fr.targetNote())
		b.WriteString("| tool | median wall | ratio to best peer | peak RSS | CPU | analyze | pg_stats rows | runs (s) |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
		for _, r := range fr.rows() {
			name := mdEsc(r.Name)
			if r.IsSelf {
				name = "**" + name + "**"
			}
			ratio := "—"
			if r.Ratio > 0 {
				ratio = fmt.Sprintf("%.2f", r.Ratio)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, secs(r.Wall), ratio, bytesStr(r.RSS), secs(r.CPU), secs(r.Analyze), r.stats(), r.Runs)
		}
		if pf := fr.Result.tool("pgferry"); pf != nil && pf.Runs[0].Phases != "" {
			fmt.Fprintf(&b, "\npgferry apply's own timing (first run):\n\n```\n%s\n```\n", pf.Runs[0].Phases)
		}
	}
	return b.String()
}

// label names a case as issue 15's table does.
func (fr *FieldResult) label() string {
	d := fr.Result
	what := fmt.Sprintf("%s tables / %s indexes", views3(d.Tables), views3(d.Indexes))
	if d.Name == "pgbench" {
		what = d.Desc
	}
	switch fr.Case.Mode {
	case modeTargetLatency:
		return what + ", target at " + ms(2*fr.Latency) + " RTT"
	case modeSourceLatency:
		return what + ", source at " + ms(2*fr.Latency) + " RTT"
	case modeBandwidth:
		return fmt.Sprintf("%s, target link capped at %g MB/s", what, float64(fr.RateKB)/1000)
	case modeTargetPG18:
		return fmt.Sprintf("%s, PostgreSQL %d target", what, fr.TargetMajor)
	}
	return what + ", no latency (through the proxy)"
}
