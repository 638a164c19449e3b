package main

import (
	"bufio"
	"fmt"
	"net"
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
