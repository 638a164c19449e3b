package apply

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
)

func TestLinkBytesPerSec(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		wire, dry time.Duration
		want      int64
	}{
		{52 * ms, 2 * ms, 20_971_520},      // 1 MiB in 50 ms beyond the dry query: a 20 MB/s cap
		{40 * ms, 38 * ms, 524_288_000},    // a busy machine: both slow alike, the wire fast
		{30 * ms, 35 * ms, 20_971_520_000}, // the wire query luckier than the dry one: floor 50 µs
		{3 * ms, 3 * ms, 20_971_520_000},
	} {
		if got := linkBytesPerSec(1<<20, tc.wire, tc.dry); got != tc.want {
			t.Errorf("linkBytesPerSec(1 MiB, %v, %v) = %d, want %d", tc.wire, tc.dry, got, tc.want)
		}
	}
}

// accountsSetup is a table of pgbench_accounts' rows (text about 85% of binary), above the
// sample threshold.
const accountsSetup = `
CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
INSERT INTO accounts SELECT g, 1 + g / 100000, 0, '' FROM generate_series(1, 200000) g;
ANALYZE;
`

// autoPlan samples app's tables of c as the source, with the target reached at target, measuring
// the link, and returns the snapshot and the accounts copy's format and detail line.
func autoPlan(t *testing.T, c *pgtest.Cluster, target *config.Server) (*snapshot.Snapshot, string, string) {
	t.Helper()
	ctx := context.Background()
	snap, _ := appSnapshot(t, c, target)
	if err := SampleCopyFormats(ctx, snap, StartLinkMeasure(ctx, snap.Migration)); err != nil {
		t.Fatal(err)
	}
	if s := snap.CopySamples["app"]["public.accounts"]; !plan.TextSmaller(s) {
		t.Fatalf("accounts: sample %+v: want text smaller", s)
	}
	p, err := plan.Build(plan.Input{Snapshot: snap})
	if err != nil {
		t.Fatal(err)
	}
	a := p.Action(plan.TableAddr("app", "public", "accounts"))
	detail := ""
	for _, d := range a.Details {
		if strings.HasPrefix(d, "copy format:") {
			detail = d
		}
	}
	return snap, a.CopyFormat, detail
}

// copyLinkCluster starts a source (also the target) with app.accounts.
func copyLinkCluster(t *testing.T) *pgtest.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a PostgreSQL server")
	}
	c := start15(t)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "app", accountsSetup); err != nil {
		t.Fatal(err)
	}
	return c
}

// On loopback, auto keeps binary for pgbench_accounts' rows however busy the machine: the link
// measure reads the wire, not the CPU, and a fast link does not bound the copy. Four CPU hogs run
// during each plan, on a machine of two cores.
func TestCopyFormatAutoLoopbackBusy(t *testing.T) {
	c := copyLinkCluster(t)
	var hogs []*exec.Cmd
	for range 4 {
		h := exec.Command("sh", "-c", "while :; do :; done")
		if err := h.Start(); err != nil {
			t.Fatal(err)
		}
		hogs = append(hogs, h)
	}
	defer func() {
		for _, h := range hogs {
			_ = h.Process.Kill()
			_ = h.Wait()
		}
	}()
	for i := range 3 {
		snap, format, detail := autoPlan(t, c, serverOf(c, "target", c.User, c.Password))
		t.Logf("plan %d: link %.1f MB/s, COPY %.1f MB/s: %s", i, float64(snap.LinkBytesPerSec)/1e6, float64(snap.CopyBytesPerSec)/1e6, detail)
		if format != config.CopyFormatBinary || !strings.Contains(detail, "copy format: binary") {
			t.Errorf("plan %d: accounts copied in %q (%s), want binary on loopback", i, format, detail)
		}
	}
}

// capped is a toxiproxy proxy on loopback in front of c capping each direction at rateKB (1,000
// bytes a second), as make bench's bandwidth mode does; it stops with the test.
func capped(t *testing.T, c *pgtest.Cluster, rateKB int64) int {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "target", "127.0.0.1:0", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	for _, dir := range []string{"upstream", "downstream"} {
		toxic := fmt.Sprintf(`{"name":"bandwidth_%s","type":"bandwidth","stream":%q,"attributes":{"rate":%d}}`, dir, dir, rateKB)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			t.Fatal(err)
		}
	}
	_, port, err := net.SplitHostPort(p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// Through a capped target link the measure reads the cap, and auto chooses text for
// pgbench_accounts' rows where the cap is clearly under the source's COPY pace: always at 1 MB/s;
// at make bench's 20 MB/s when the source streams binary at 40 MB/s or more (a quiet machine),
// binary otherwise (a busy one: CPU bounds the copy).
func TestCopyFormatAutoCapped(t *testing.T) {
	c := copyLinkCluster(t)
	for _, mbs := range []int64{20, 1} {
		tgt := serverOf(c, "target", c.User, c.Password)
		tgt.Host, tgt.Port = "127.0.0.1", capped(t, c, mbs*1000)
		snap, format, detail := autoPlan(t, c, tgt)
		link, cp := float64(snap.LinkBytesPerSec)/1e6, float64(snap.CopyBytesPerSec)/1e6
		t.Logf("cap %d MB/s: link %.1f MB/s, COPY %.1f MB/s: %s", mbs, link, cp, detail)
		// Never slower than the cap; at 1 MB/s the cap itself. At 20 MB/s a busy machine can read
		// faster: the test's toxiproxy wakes late and lets the next try through early by as much.
		if link < 0.7*float64(mbs) || (mbs == 1 && link > 1.3) {
			t.Errorf("cap %d MB/s: the link measured %.1f MB/s", mbs, link)
		}
		want := config.CopyFormatBinary
		if plan.LinkBoundsCopy(snap.LinkBytesPerSec, snap.CopyBytesPerSec) {
			want = config.CopyFormatText
		}
		if mbs == 1 && want != config.CopyFormatText {
			t.Errorf("cap 1 MB/s: COPY pace %.1f MB/s: want the link to bound it", cp)
		}
		if format != want || !strings.Contains(detail, "copy format: "+want) {
			t.Errorf("cap %d MB/s: accounts copied in %q (%s), want %q", mbs, format, detail, want)
		}
	}
}
