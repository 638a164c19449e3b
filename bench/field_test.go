package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/internal/pgtest"
)

func TestParseField(t *testing.T) {
	got, err := parseField("many@target-latency, tiny1000@none,pgbench@bandwidth")
	if err != nil {
		t.Fatal(err)
	}
	want := []fieldCase{{"many", modeTargetLatency}, {"tiny1000", modeNone}, {"pgbench", modeBandwidth}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("case %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := parseField(defaultField); err != nil {
		t.Errorf("default field cases: %v", err)
	}
	for _, bad := range []string{"many", "many@slow", "tinyx@none", "@none", "tiny0@none"} {
		if _, err := parseField(bad); err == nil {
			t.Errorf("parseField(%q): no error", bad)
		}
	}
}

func TestAllDatasets(t *testing.T) {
	got := strings.Join(allDatasets(options{datasets: "pgbench,many", field: "many@none,tiny1000@target-latency,many@source-latency"}), ",")
	if got != "pgbench,many,tiny1000" {
		t.Errorf("allDatasets = %s", got)
	}
}

func TestMergeReportKeepsWhatDidNotRun(t *testing.T) {
	old := "# Benchmarks\nloopback numbers\n## In the field\nold field\n## Notes\nhand-written\n"
	// A field-only run: the loopback part and the notes stay, the field part is new.
	rep := &Report{Field: []*FieldResult{}}
	got := mergeReport(old, rep)
	if !strings.HasPrefix(got, "# Benchmarks\nloopback numbers\n") || strings.Contains(got, "old field") ||
		!strings.Contains(got, "### Field run of") || !strings.HasSuffix(got, "## Notes\nhand-written\n") {
		t.Errorf("field-only merge:\n%s", got)
	}
	// A loopback-only run: the field part and the notes stay.
	got = mergeReport(old, &Report{Datasets: []*DatasetResult{}, GoBench: "x"})
	if !strings.Contains(got, "## In the field\nold field\n") || strings.Contains(got, "loopback numbers") ||
		!strings.HasSuffix(got, "## Notes\nhand-written\n") {
		t.Errorf("loopback-only merge:\n%s", got)
	}
}

func TestMergeReportKeepsEarlierFieldRuns(t *testing.T) {
	old := "# B\n## In the field\nmethod\n### Field run of A\na\n#### x\n### Field run of B\nb\n### Field run of C\nc\n### Field run of D\nd\n"
	got := mergeReport(old, &Report{Field: []*FieldResult{}, Machine: Machine{Date: "NEW"}})
	var heads []string
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "### Field run of ") {
			heads = append(heads, strings.TrimPrefix(l, "### Field run of "))
		}
	}
	if strings.Join(heads, ",") != "NEW,A,B,C" || !strings.Contains(got, "\n### Field run of A\na\n#### x\n") || strings.Contains(got, "\nd\n") {
		t.Errorf("runs kept: %v\n%s", heads, got)
	}
}

// TestLinkLatency runs the in-process proxy in front of a loopback echo server: a round trip
// through it takes the injected latency twice.
func TestLinkLatency(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(l))
				}
			}()
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	l, err := openLink("test", &pgtest.Cluster{Host: "127.0.0.1", Port: addr.Port}, 10*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(l.port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	start := time.Now()
	for i := 0; i < 3; i++ {
		c.Write([]byte("ping\n"))
		if l, err := r.ReadString('\n'); err != nil || l != "ping\n" {
			t.Fatalf("echo through the proxy: %q, %v", l, err)
		}
	}
	if rtt := time.Since(start) / 3; rtt < 20*time.Millisecond || rtt > 500*time.Millisecond {
		t.Errorf("round trip through the proxy with 10 ms each way: %s", rtt)
	}
}

func TestFieldPG18Mode(t *testing.T) {
	cases, err := parseField(defaultField)
	if err != nil {
		t.Fatal(err)
	}
	// Issue 15's table: every mode, 20,000 tables, the cap, the PG18 target.
	for _, want := range []string{"many@target-latency", "many@source-latency", "tiny20000@none", "pgbench@bandwidth", "many@target-pg18"} {
		found := false
		for _, c := range cases {
			found = found || c.String() == want
		}
		if !found {
			t.Errorf("default field cases lack %s: %s", want, defaultField)
		}
	}
	o := options{fieldTools: "pgferry,fd,fc,pgcopydb"}
	if got := fieldTools(o, fieldCase{"many", modeTargetPG18}); got != "pgferry,fd,fc,pgcopydb,fd-analyze,fd-stats" {
		t.Errorf("PG18 mode tools: %s", got)
	}
	if got := fieldTools(o, fieldCase{"tiny20000", modeNone}); got != "pgferry,fd,fc" {
		t.Errorf("20,000 tables tools: %s", got)
	}
}

func TestSelectTools(t *testing.T) {
	ids := func(e *env, ds string) string {
		var out []string
		for _, t := range selectTools(e, ds) {
			out = append(out, t.id)
		}
		return strings.Join(out, ",")
	}
	// "all" leaves the field-only tools out, and pgcopydb when it is not installed.
	e := &env{o: options{tools: "all"}, dumpMajor: 15}
	if got := ids(e, "many"); got != "fd,fd-z0,fc,fc-z0,fd-z0-analyze,pgferry" {
		t.Errorf("all on many: %s", got)
	}
	// pg_dump --statistics needs pg_dump 18.
	e = &env{o: options{tools: "pgferry,fd,fd-analyze,fd-stats,pgcopydb"}, dumpMajor: 15, pgcopydb: "/usr/bin/pgcopydb"}
	if got := ids(e, "many"); got != "fd,fd-analyze,pgcopydb,pgferry" {
		t.Errorf("named, pg_dump 15: %s", got)
	}
	e.dumpMajor = 18
	if got := ids(e, "many"); got != "fd,fd-analyze,fd-stats,pgcopydb,pgferry" {
		t.Errorf("named, pg_dump 18: %s", got)
	}
}

func TestAnalyzeFromLog(t *testing.T) {
	log := t.TempDir() + "/run.log"
	os.WriteFile(log, []byte("$ bash -c ...\nvacuumdb: vacuuming database \"many\"\nbench-analyze-seconds 2.375\n"), 0o644)
	if got := analyzeFromLog(log); got != 2375*time.Millisecond {
		t.Errorf("analyzeFromLog = %s", got)
	}
	os.WriteFile(log, []byte("nothing timed\n"), 0o644)
	if got := analyzeFromLog(log); got != 0 {
		t.Errorf("analyzeFromLog without a mark = %s", got)
	}
}

func fieldResult(c fieldCase, major int, tools ...*toolResult) *FieldResult {
	return &FieldResult{Case: c, TargetMajor: major, Result: &DatasetResult{Name: c.Dataset, Tools: tools}}
}

func toolRun(id string, wall, analyze time.Duration, rss int64) *toolResult {
	return &toolResult{ID: id, Name: id, Runs: []runResult{{Measurement: Measurement{Wall: wall, MaxRSS: rss}, Analyze: analyze}}}
}

func TestFieldBars(t *testing.T) {
	s := time.Second
	lat := fieldResult(fieldCase{"many", modeTargetLatency}, 0, toolRun("pgferry", 10*s, 0, 30<<20), toolRun("fd", 40*s, 0, 0), toolRun("fc", 50*s, 0, 0))
	tiny := fieldResult(fieldCase{"tiny20000", modeNone}, 0, toolRun("pgferry", 70*s, 0, 452<<20), toolRun("fc", 60*s, 0, 146<<20))
	none := fieldResult(fieldCase{"many", modeNone}, 0, toolRun("pgferry", 8*s, 2500*time.Millisecond, 0), toolRun("fd", 8*s, 0, 0))
	pg18 := fieldResult(fieldCase{"many", modeTargetPG18}, 18, toolRun("pgferry", 6*s, 400*time.Millisecond, 0), toolRun("fd-stats", 7*s, 300*time.Millisecond, 0))
	capped := fieldResult(fieldCase{"pgbench", modeBandwidth}, 0, toolRun("pgferry", 8*s, 0, 0), toolRun("fc", 6*s, 0, 0))
	all := []*FieldResult{lat, tiny, none, pg18, capped}
	for fr, want := range map[*FieldResult]string{
		lat:    "to the best peer 0.25 meets ≤ 0.35",
		tiny:   "to pg_dump | pg_restore 1.17 MISSES ≤ 0.8; peak RSS 452.00 MISSES ≤ 150 MB",
		none:   "",
		pg18:   "analyze phase 0.4 s vs 2.5 s on the bench's own target (many@none): 0.16 meets ≤ 0.2",
		capped: "to the best peer 1.33 MISSES ≤ 1",
	} {
		if got := fr.bar(all); got != want {
			t.Errorf("%s: bar %q, want %q", fr.Case, got, want)
		}
	}
	if got := pg18.bar([]*FieldResult{pg18}); !strings.Contains(got, "no many@none case") {
		t.Errorf("PG18 alone: %q", got)
	}
	// The case's table shows the analyze step and the PG18 label.
	md := (&Report{Field: all}).fieldMarkdown("bench")
	for _, want := range []string{"| 0 tables / 0 indexes, PostgreSQL 18 target |", "| fd-stats | 7.0 s | 1.00 | — | — | 0.3 s | — | 7.0 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
}
