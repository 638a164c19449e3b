package apply

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
)

// copyFormatSetup makes, in database app: nums, a narrow numeric table (text streams it much
// smaller), blobs, a bytea table (binary streams it half the size), both above the sample threshold;
// small, a numeric table below it; and feelings, whose enum column has no binary form safe between
// servers.
const copyFormatSetup = `
CREATE TABLE nums (a int, b int, c int, d bigint, e smallint, f numeric);
INSERT INTO nums SELECT g, g % 100, g % 7, g % 1000, (g % 50)::smallint, (g % 1000) / 100.0 FROM generate_series(1, 300000) g;
CREATE TABLE blobs (id int, data bytea);
INSERT INTO blobs SELECT g, decode((SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 16) i), 'hex') FROM generate_series(1, 60000) g;
CREATE TABLE small (a int, b int);
INSERT INTO small SELECT g, g FROM generate_series(1, 1000) g;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE feelings (id int, m mood);
INSERT INTO feelings SELECT g, (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3] FROM generate_series(1, 100000) g;
ANALYZE;
`

// The plan-time sample of each large table says which format streams it smaller, as the whole
// table measured in both formats does: the narrow numeric table goes in text, the bytea one in
// binary; the small one is not sampled (binary), the one with an enum stays text.
func TestSampleCopyFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a PostgreSQL server")
	}
	c := start15(t)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "app", copyFormatSetup); err != nil {
		t.Fatal(err)
	}
	snap, conn := appSnapshot(t, c, serverOf(c, "target", c.User, c.Password))
	if err := SampleCopyFormats(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	samples := snap.CopySamples["app"]
	if len(samples) != 2 {
		t.Fatalf("samples %+v, want nums and blobs only", samples)
	}
	// The whole of each table in both formats, as apply would stream it.
	whole := func(table string) snapshot.CopySample {
		var s snapshot.CopySample
		for _, f := range []string{"text", "binary"} {
			n, rows, err := streamSize(ctx, conn, "COPY "+table+" TO STDOUT WITH (FORMAT "+f+")")
			if err != nil {
				t.Fatal(err)
			}
			if f == "text" {
				s.Text, s.Rows = n, rows
			} else {
				s.Binary = n - 21
			}
		}
		return s
	}
	for _, tc := range []struct {
		table string
		text  bool
	}{{"nums", true}, {"blobs", false}} {
		s, w := samples["public."+tc.table], whole(tc.table)
		if s.Err != "" || s.Rows < 100 || s.Rows >= w.Rows {
			t.Errorf("%s: sample %+v of %d rows: want a sample of some rows", tc.table, s, w.Rows)
		}
		sr, wr := float64(s.Text)/float64(s.Binary), float64(w.Text)/float64(w.Binary)
		t.Logf("%s: sample %d rows, text/binary %.3f; whole %d rows (%d / %d bytes), %.3f", tc.table, s.Rows, sr, w.Rows, w.Text, w.Binary, wr)
		if plan.TextSmaller(s) != tc.text || plan.TextSmaller(w) != tc.text {
			t.Errorf("%s: text chosen by the sample %v, by the whole table %v, want %v", tc.table, plan.TextSmaller(s), plan.TextSmaller(w), tc.text)
		}
		if sr < wr*0.95 || sr > wr*1.05 {
			t.Errorf("%s: the sample's text/binary ratio %.3f is more than 5%% off the table's %.3f", tc.table, sr, wr)
		}
	}

	// Text is smaller for nums: the link and the source's COPY pace were measured (loopback).
	t.Logf("link %d B/s, COPY %d B/s", snap.LinkBytesPerSec, snap.CopyBytesPerSec)
	if snap.LinkBytesPerSec <= 0 || snap.CopyBytesPerSec <= 0 {
		t.Errorf("link %d B/s, COPY %d B/s: not measured", snap.LinkBytesPerSec, snap.CopyBytesPerSec)
	}
	for _, tc := range []struct {
		link int64
		nums string
	}{{20_000_000, "text"}, {2_000_000_000, "binary"}, {0, "binary"}} {
		// A link capped at 20 MB/s; loopback; not measured (binary, the cheaper mistake). COPY at 150 MB/s.
		snap.LinkBytesPerSec, snap.CopyBytesPerSec = tc.link, 150_000_000
		p, err := plan.Build(plan.Input{Snapshot: snap})
		if err != nil {
			t.Fatal(err)
		}
		for table, want := range map[string]string{"nums": tc.nums, "blobs": "binary", "small": "binary", "feelings": "text"} {
			a := p.Action(plan.TableAddr("app", "public", table))
			if a == nil || a.CopyFormat != want {
				t.Errorf("link %d B/s: %s: planned %+v, want copy_format %q", tc.link, table, a, want)
			}
		}
	}
	// Apply follows the plan, and never binary where unsafe, nor for an older plan's "".
	for _, tc := range []struct {
		format string
		safe   bool
		want   bool
	}{{"text", true, false}, {"binary", true, true}, {"", true, true}, {"binary", false, false}, {"", false, false}} {
		if got := binaryCopy(&plan.Action{CopyFormat: tc.format}, tc.safe); got != tc.want {
			t.Errorf("binaryCopy(%q, safe %v) = %v", tc.format, tc.safe, got)
		}
	}
}

// appSnapshot is the snapshot a plan of c's database app (read on the returned session, open
// until the test ends) would sample copies in, with the target reached at target.
func appSnapshot(t *testing.T, c *pgtest.Cluster, target *config.Server) (*snapshot.Snapshot, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	conn, err := c.Connect(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	in, err := catalog.ReadInstance(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := catalog.ReadDatabase(ctx, conn, "app", in.VersionNum)
	if err != nil {
		t.Fatal(err)
	}
	m := &config.Migration{Name: "m", Source: serverOf(c, "source", c.User, c.Password), Target: target,
		Databases: []string{"app"}, Options: config.Options{Jobs: 2, Verify: "none", CopyFormat: config.CopyFormatAuto}}
	return &snapshot.Snapshot{Migration: m, Source: in, Target: &catalog.Instance{VersionNum: in.VersionNum, CurrentUser: c.User, IsSuperuser: true},
		Databases: []string{"app"}, SourceDBs: map[string]*catalog.Database{"app": db}, TargetDBs: map[string]*catalog.Database{}}, conn
}
