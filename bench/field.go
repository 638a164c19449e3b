package main

// Field modes: the same tools, side by side in one run, through a Toxiproxy proxy on loopback
// that adds latency or caps the bandwidth of one link (issue 15). The proxy runs in this
// process (toxiproxy's Go packages, no server to install); every tool connects through it,
// while the bench's own bookkeeping (creating, renaming and counting databases) goes straight
// to the servers.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/pgtest"
)

// Field modes.
const (
	modeNone          = "none"           // through the proxy, nothing injected
	modeTargetLatency = "target-latency" // the target's link has -rtt
	modeSourceLatency = "source-latency" // the source's link has -rtt
	modeBandwidth     = "bandwidth"      // the target's link is capped at -bandwidth
	// modeTargetPG18 moves to a PostgreSQL 18 target (a third cluster, through the proxy with
	// nothing injected): statistics carried over (pg_dump 18 --statistics) against ANALYZE.
	modeTargetPG18 = "target-pg18"
)

var fieldModes = []string{modeNone, modeTargetLatency, modeSourceLatency, modeBandwidth, modeTargetPG18}

// defaultField is issue 15's table: the 200-table set at 20 ms on either side and without
// latency, 1,000 tiny tables at 20 ms, 20,000 tiny tables without latency, pgbench under a cap,
// and the 200-table set on a PostgreSQL 18 target.
const defaultField = "many@target-latency,many@none,many@source-latency,tiny1000@target-latency,tiny20000@none,pgbench@bandwidth,many@target-pg18"

// fieldCase is one dataset moved in one mode.
type fieldCase struct{ Dataset, Mode string }

func (c fieldCase) String() string { return c.Dataset + "@" + c.Mode }

// parseField reads -field: comma-separated DATASET@MODE.
func parseField(s string) ([]fieldCase, error) {
	var out []fieldCase
	for _, f := range splitList(s) {
		ds, mode, ok := strings.Cut(f, "@")
		if !ok || ds == "" {
			return nil, fmt.Errorf("-field %q: want DATASET@MODE, e.g. many@target-latency", f)
		}
		if !contains(fieldModes, mode) {
			return nil, fmt.Errorf("-field %q: unknown mode %q (%s)", f, mode, strings.Join(fieldModes, ", "))
		}
		if err := checkDataset(ds); err != nil {
			return nil, fmt.Errorf("-field %q: %w", f, err)
		}
		out = append(out, fieldCase{Dataset: ds, Mode: mode})
	}
	return out, nil
}

// checkDataset accepts the datasets generate knows.
func checkDataset(ds string) error {
	if ds == "pgbench" || ds == "many" {
		return nil
	}
	if n, ok := tinyCount(ds); ok && n > 0 {
		return nil
	}
	return fmt.Errorf("unknown dataset %q (pgbench, many, tinyN: N tiny tables, e.g. tiny1000)", ds)
}

// tinyCount is N of a "tinyN" dataset: N tiny tables.
func tinyCount(ds string) (int, bool) {
	s, ok := strings.CutPrefix(ds, "tiny")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// allDatasets is every dataset the run needs on the source, each once, in first-use order.
func allDatasets(o options) []string {
	var out []string
	add := func(ds string) {
		if !contains(out, ds) {
			out = append(out, ds)
		}
	}
	for _, ds := range splitList(o.datasets) {
		add(ds)
	}
	cases, _ := parseField(o.field)
	for _, c := range cases {
		add(c.Dataset)
	}
	return out
}

// link is a proxy in front of one server, with what it injects.
type link struct {
	proxy *toxiproxy.Proxy
	port  int
}

// openLink starts a proxy on loopback in front of c. latency is added to each direction
// (toxiproxy delays every chunk by it: the round trip gains twice as much); rateKB caps each
// direction in toxiproxy's unit, 1,000 bytes a second (0: no cap).
func openLink(name string, c *pgtest.Cluster, latency time.Duration, rateKB int64) (*link, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s proxy: %w", name, err)
	}
	var toxics []string
	for _, dir := range []string{"upstream", "downstream"} {
		if latency > 0 {
			toxics = append(toxics, fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`,
				dir, dir, latency.Milliseconds()))
		}
		if rateKB > 0 {
			toxics = append(toxics, fmt.Sprintf(`{"name":"bandwidth_%s","type":"bandwidth","stream":%q,"attributes":{"rate":%d}}`,
				dir, dir, rateKB))
		}
	}
	for _, t := range toxics {
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(t)); err != nil {
			p.Stop()
			return nil, fmt.Errorf("adding toxic %s to the %s proxy: %w", t, name, err)
		}
	}
	_, port, err := net.SplitHostPort(p.Listen)
	if err != nil {
		p.Stop()
		return nil, err
	}
	l := &link{proxy: p}
	l.port, _ = strconv.Atoi(port)
	return l, nil
}

func (l *link) close() {
	if l != nil {
		l.proxy.Stop()
	}
}

// via is c reached through the proxy: same server, the proxy's port.
func (l *link) via(c *pgtest.Cluster) *pgtest.Cluster {
	v := *c
	v.Host, v.Port = "127.0.0.1", l.port
	return &v
}

// srcLink and tgtLink are the servers as the tools reach them: through the field mode's
// proxy when one is in front, else directly.
func (e *env) srcLink() *pgtest.Cluster {
	if e.srcVia != nil {
		return e.srcVia
	}
	return e.src
}

func (e *env) tgtLink() *pgtest.Cluster {
	if e.tgtVia != nil {
		return e.tgtVia
	}
	return e.tgt
}

// measureRTT times n `SELECT 1` round trips on one connection to c and returns their median.
func measureRTT(ctx context.Context, c *pgtest.Cluster, n int) (time.Duration, error) {
	conn, err := c.Connect(ctx, "postgres")
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var ds []time.Duration
	for i := 0; i < n; i++ {
		var one int
		start := time.Now()
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	return median(ds), nil
}

// FieldResult is one dataset moved in one field mode.
type FieldResult struct {
	Case fieldCase
	// What was injected, and the round trip through the proxy as measured.
	Latency   time.Duration // each way
	RateKB    int64
	RTT       time.Duration // median of SELECT 1 round trips through the proxy
	DirectRTT time.Duration // the same, straight to the server
	Side      string        // "source" or "target": which link the proxy is on
	Result    *DatasetResult
	// TargetMajor is the target's major when it is not the source's (the PG18 mode), and
	// SourceStats the source's pg_stats rows of user tables then.
	TargetMajor int
	SourceStats int64
}

// fieldTools are the tools of a field case: the -field-tools list, without pgcopydb on
// catalogs of thousands of tables (it was killed for using 21.6 GB on 20,000); the PG18 mode adds
// the statistics' two routes with pg_dump: ANALYZE after the restore, and the statistics carried.
func fieldTools(o options, c fieldCase) string {
	var out []string
	ids := splitList(o.fieldTools)
	if c.Mode == modeTargetPG18 {
		for _, id := range []string{"fd-analyze", "fd-stats"} {
			if !contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	for _, id := range ids {
		if n, ok := tinyCount(c.Dataset); ok && n >= 5000 && id == "pgcopydb" {
			logf("%s: pgcopydb left out (on 20,000 tables it was killed for out-of-memory at 21.6 GB)", c)
			continue
		}
		out = append(out, id)
	}
	return strings.Join(out, ",")
}

// benchField runs every field case: the proxy, the measured RTT, then the tools side by side.
func benchField(ctx context.Context, e *env) ([]*FieldResult, error) {
	cases, err := parseField(e.o.field)
	if err != nil {
		return nil, err
	}
	var out []*FieldResult
	for _, c := range cases {
		fr, err := benchFieldCase(ctx, e, c)
		if err != nil {
			return nil, fmt.Errorf("field case %s: %w", c, err)
		}
		out = append(out, fr)
		fmt.Println()
		fmt.Print(fr.Text())
	}
	return out, nil
}

func benchFieldCase(ctx context.Context, e *env, c fieldCase) (*FieldResult, error) {
	fr := &FieldResult{Case: c, Side: "target"}
	if c.Mode == modeTargetPG18 {
		restore, err := e.usePG18Target()
		if err != nil {
			return nil, err
		}
		defer restore()
		fr.TargetMajor = 18
		if fr.SourceStats, err = statsRows(ctx, e.src, c.Dataset); err != nil {
			return nil, err
		}
	}
	server := e.tgt
	switch c.Mode {
	case modeTargetLatency:
		fr.Latency = e.o.rtt / 2
	case modeSourceLatency:
		fr.Latency, fr.Side, server = e.o.rtt/2, "source", e.src
	case modeBandwidth:
		fr.RateKB = int64(e.o.bandwidthMB * 1000)
	}
	l, err := openLink(fr.Side, server, fr.Latency, fr.RateKB)
	if err != nil {
		return nil, err
	}
	defer l.close()
	if fr.Side == "source" {
		e.srcVia = l.via(e.src)
	} else {
		e.tgtVia = l.via(e.tgt)
	}
	saved := e.o
	defer func() { e.srcVia, e.tgtVia, e.o, e.tag = nil, nil, saved, "" }()
	if fr.DirectRTT, err = measureRTT(ctx, server, 20); err != nil {
		return nil, err
	}
	if fr.RTT, err = measureRTT(ctx, l.via(server), 20); err != nil {
		return nil, fmt.Errorf("through the proxy: %w", err)
	}
	logf("field %s: proxy on 127.0.0.1:%d in front of the %s; RTT (median of 20 SELECT 1) %s through it, %s direct%s",
		c, l.port, fr.Side, ms(fr.RTT), ms(fr.DirectRTT), fr.injected())
	// pgferry's own verification would also cross the slow link: the bench's row counts
	// (straight to the servers) check every run instead.
	e.o.tools, e.o.checksum, e.o.countVerify = fieldTools(saved, c), false, false
	e.tag = c.Mode + "-"
	if fr.Result, err = benchDataset(ctx, e, c.Dataset); err != nil {
		return nil, err
	}
	return fr, nil
}

// targetPG18Major is the target's major in the PG18 mode.
const targetPG18Major = 18

// usePG18Target starts a PostgreSQL 18 target cluster and makes it the target, with pg_dump and
// pg_restore 18 for the peers, until the returned function puts the bench's target back (and
// stops the new one).
func (e *env) usePG18Target() (func(), error) {
	dumpDir, err := clientDir(targetPG18Major)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.o.dir, "target18")
	if c, err := pgtest.Load(dir); err == nil {
		c.Stop()
	}
	e.discard(dir)
	logf("creating a PostgreSQL %d target cluster in %s (pg_dump and pg_restore from %s)", targetPG18Major, dir, dumpDir)
	c, err := pgtest.New(dir, targetPG18Major, e.conf...)
	if err != nil {
		return nil, err
	}
	secrets = append(secrets, c.Password)
	tgt, bin, major, kept := e.tgt, e.dumpBin, e.dumpMajor, len(e.kept)
	e.tgt, e.dumpBin, e.dumpMajor, e.statsCheck = c, dumpDir, targetPG18Major, true
	// pgferry finds pg_dump 18 there too (it looks on PATH and in Debian's directories otherwise).
	binPath, hadBinPath := os.LookupEnv(pgdump.BinPathEnv)
	os.Setenv(pgdump.BinPathEnv, dumpDir)
	return func() {
		if hadBinPath {
			os.Setenv(pgdump.BinPathEnv, binPath)
		} else {
			os.Unsetenv(pgdump.BinPathEnv)
		}
		// The databases kept on it go with the cluster.
		e.tgt, e.dumpBin, e.dumpMajor, e.statsCheck, e.kept = tgt, bin, major, false, e.kept[:kept]
		c.Stop()
		e.discard(dir)
	}, nil
}

// clientDir is a directory holding pg_dump and pg_restore of the given major: Debian's, or the
// clients `make pg-versions` installs.
func clientDir(major int) (string, error) {
	dirs := []string{filepath.Join("/usr/lib/postgresql", strconv.Itoa(major), "bin")}
	for _, d := range pgtest.ClientDirs() {
		if filepath.Base(filepath.Dir(d)) == strconv.Itoa(major) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		_, e1 := os.Stat(filepath.Join(d, "pg_dump"))
		_, e2 := os.Stat(filepath.Join(d, "pg_restore"))
		if e1 == nil && e2 == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no pg_dump and pg_restore %d in %s: run make pg-versions", major, strings.Join(dirs, " or "))
}

func (fr *FieldResult) injected() string {
	var parts []string
	if fr.Latency > 0 {
		parts = append(parts, fmt.Sprintf("latency %s each way", ms(fr.Latency)))
	}
	if fr.RateKB > 0 {
		parts = append(parts, fmt.Sprintf("bandwidth %g MB/s each way", float64(fr.RateKB)/1000))
	}
	if len(parts) == 0 {
		return "; nothing injected"
	}
	return "; injected: " + strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// bestPeer is the fastest tool other than pgferry and the floor, by median.
func (d *DatasetResult) bestPeer() *toolResult {
	var best *toolResult
	for _, t := range d.Tools {
		if strings.HasPrefix(t.ID, "pgferry") || t.ID == "floor" || len(t.Runs) == 0 {
			continue
		}
		if best == nil || t.wall() < best.wall() {
			best = t
		}
	}
	return best
}

// cpu is the median CPU time (user + system, the tool's whole process tree) over the runs.
func (t *toolResult) cpu() time.Duration {
	return t.field(func(r runResult) time.Duration { return r.CPU })
}

// fieldRow is one tool's line of a field case's table.
type fieldRow struct {
	Name   string
	Wall   time.Duration
	Ratio  float64 // to the best peer (0: no peer)
	RSS    int64
	CPU    time.Duration
	Runs   string
	Best   bool // the best peer
	IsSelf bool // pgferry
	ID     string
	// Analyze is the median wall time of the statistics step (0: none); Stats the pg_stats
	// rows on the target after the last run (HasStats: counted).
	Analyze  time.Duration
	Stats    int64
	HasStats bool
}

func (fr *FieldResult) rows() []fieldRow {
	d := fr.Result
	best := d.bestPeer()
	var out []fieldRow
	for _, t := range d.Tools {
		if len(t.Runs) == 0 {
			continue
		}
		p, _ := t.peak()
		var runs []string
		for _, r := range t.Runs {
			runs = append(runs, fmt.Sprintf("%.1f", r.Wall.Seconds()))
		}
		last := t.Runs[len(t.Runs)-1]
		row := fieldRow{Name: t.Name, Wall: t.wall(), RSS: p, CPU: t.cpu(), Runs: strings.Join(runs, ", "),
			Best: t == best, IsSelf: t.ID == "pgferry", ID: t.ID,
			Analyze: t.field(func(r runResult) time.Duration { return r.Analyze }), Stats: last.StatsRows, HasStats: last.HasStats}
		if best != nil && best.wall() > 0 {
			row.Ratio = t.wall().Seconds() / best.wall().Seconds()
		}
		out = append(out, row)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].IsSelf && !out[j].IsSelf })
	return out
}

// Text is the field case's table for the terminal.
func (fr *FieldResult) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s: %s; RTT %s%s%s\n", fr.Case, fr.Result.title(), ms(fr.RTT), fr.injected(), fr.targetNote())
	fmt.Fprintf(&b, "%-52s %10s %8s %10s %10s %10s %9s %s\n", "tool", "median", "ratio", "peak RSS", "CPU", "analyze", "pg_stats", "runs")
	for _, r := range fr.rows() {
		fmt.Fprintf(&b, "%-52s %10s %8.2f %10s %10s %10s %9s %s\n", r.Name, secs(r.Wall), r.Ratio, bytesStr(r.RSS), secs(r.CPU),
			secs(r.Analyze), r.stats(), r.Runs)
	}
	return b.String()
}

func (r fieldRow) stats() string {
	if !r.HasStats {
		return "—"
	}
	return strconv.FormatInt(r.Stats, 10)
}

// targetNote says when the target is of another major than the source.
func (fr *FieldResult) targetNote() string {
	if fr.TargetMajor == 0 {
		return ""
	}
	return fmt.Sprintf("; PostgreSQL %d target, source's pg_stats rows %d", fr.TargetMajor, fr.SourceStats)
}

// bar is the case against issue 15's acceptance, where the issue sets one ("" otherwise). all is
// the run's every case: the PG18 analyze phase is compared with the same dataset's on the
// bench's own target.
func (fr *FieldResult) bar(all []*FieldResult) string {
	self := fr.Result.tool("pgferry")
	if self == nil {
		return ""
	}
	ratioTo := func(t *toolResult) float64 { return self.wall().Seconds() / t.wall().Seconds() }
	verdict := func(v, bar float64) string {
		if v <= bar {
			return fmt.Sprintf("%.2f meets ≤ %s", v, trimFloat(bar))
		}
		return fmt.Sprintf("%.2f MISSES ≤ %s", v, trimFloat(bar))
	}
	n, tiny := tinyCount(fr.Case.Dataset)
	switch {
	case fr.Case.Mode == modeTargetLatency && fr.Case.Dataset == "many":
		if best := fr.Result.bestPeer(); best != nil {
			return "to the best peer " + verdict(ratioTo(best), 0.35)
		}
	case fr.Case.Mode == modeBandwidth && fr.Case.Dataset == "pgbench":
		if best := fr.Result.bestPeer(); best != nil {
			return "to the best peer " + verdict(ratioTo(best), 1.0)
		}
	case tiny && n >= 20000 && (fr.Case.Mode == modeNone):
		var parts []string
		if fc := fr.Result.tool("fc"); fc != nil {
			parts = append(parts, "to pg_dump | pg_restore "+verdict(ratioTo(fc), 0.8))
		}
		p, _ := self.peak()
		parts = append(parts, "peak RSS "+verdict(float64(p)/(1<<20), 150)+" MB")
		return strings.Join(parts, "; ")
	case fr.Case.Mode == modeTargetPG18:
		mine := self.field(func(r runResult) time.Duration { return r.Analyze })
		for _, o := range all {
			if o.Case.Dataset != fr.Case.Dataset || o.TargetMajor != 0 || (o.Case.Mode != modeNone) {
				continue
			}
			if t := o.Result.tool("pgferry"); t != nil {
				if base := t.field(func(r runResult) time.Duration { return r.Analyze }); base > 0 {
					return fmt.Sprintf("analyze phase %s vs %s on the bench's own target (%s@none): ", secs(mine), secs(base),
						fr.Case.Dataset) + verdict(mine.Seconds()/base.Seconds(), 0.2)
				}
			}
		}
		return fmt.Sprintf("analyze phase %s (no %s@none case in this run to compare with)", secs(mine), fr.Case.Dataset)
	}
	return ""
}
