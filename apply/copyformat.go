package apply

import (
	"context"
	"fmt"
	"io"
	"runtime/trace"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// binaryCopy is whether a table copy runs in binary: the plan's choice (Action.CopyFormat, made by
// copy_format), and never where safe (plan.BinarySafe, as the catalog read now says) is false. A
// plan made before the format was recorded copies in binary where safe.
func binaryCopy(a *plan.Action, safe bool) bool {
	return safe && a.CopyFormat != config.CopyFormatText
}

// copySampleTimeout bounds one sample: a few pages read; a table whose sample takes longer (a
// locked or slow source) is copied in binary.
const copySampleTimeout = 10 * time.Second

// SampleCopyFormats takes, for copy_format = "auto", a sample of each table of the source
// databases of snap that plan.CopySampled names, and records in snap.CopySamples how many bytes
// the same rows take in each COPY format: plan.Build chooses each table's format by them. A sample
// reads about plan.CopySamplePages random pages (TABLESAMPLE SYSTEM, REPEATABLE so that both
// formats stream the same rows) and streams at most plan.CopySampleRows rows, to nowhere. A sample
// that fails is recorded with its error (the table is then copied in binary); only ctx's end
// fails the whole. Databases are sampled a few at a time, on a connection each. When a sample
// favours text, the links' speed (measureLink) is compared with the samples' binary pace
// (snap.LinkBytesPerSec, snap.CopyBytesPerSec): plan.LinkBoundsCopy keeps binary unless the link is clearly slower.
// link is that measure started earlier (StartLinkMeasure), taken when a sample favours text and
// stopped otherwise; nil: the links are measured here when needed.
func SampleCopyFormats(ctx context.Context, snap *snapshot.Snapshot, link *LinkMeasure) error {
	defer trace.StartRegion(ctx, "copy samples").End()
	defer link.Stop()
	m := snap.Migration
	snap.CopySamples = map[string]map[string]snapshot.CopySample{}
	type job struct {
		db     string
		tables []catalog.Table
		out    map[string]snapshot.CopySample
	}
	var jobs []*job
	for _, db := range snap.Databases {
		sdb := snap.SourceDBs[db]
		if sdb == nil {
			continue
		}
		var tables []catalog.Table
		for _, t := range plan.CopySampled(m.Options, sdb) {
			// A table the state shows copied is not copied again (unless its database is migrated
			// again, when it goes in binary): no sample.
			if a := snap.State.Action(plan.TableAddr(db, t.Schema, t.Name)); a == nil || a.Status != state.ActionApplied {
				tables = append(tables, t)
			}
		}
		if len(tables) > 0 {
			j := &job{db: db, tables: tables, out: map[string]snapshot.CopySample{}}
			jobs = append(jobs, j)
			snap.CopySamples[db] = j.out
		}
	}
	var version pgver.V
	if snap.Source != nil {
		version = snap.Source.VersionNum
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			conn, err := pgconn.Connect(ctx, m.Source, j.db)
			if err != nil {
				for _, t := range j.tables {
					j.out[t.Key()] = snapshot.CopySample{Err: "connecting: " + err.Error()}
				}
				return
			}
			defer conn.Close(context.WithoutCancel(ctx))
			// A sample's pace leaves out the round trip: over a long link it is not the COPY's. The
			// best of linkTries: on a busy machine one SELECT 1 can take as long as the sample, and
			// the pace would read as thousands of MB/s.
			rtt := time.Duration(0)
			for range linkTries {
				var one int
				start := time.Now()
				if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err == nil && (rtt == 0 || time.Since(start) < rtt) {
					rtt = time.Since(start)
				}
			}
			for _, t := range j.tables {
				if ctx.Err() != nil {
					return
				}
				s := sampleCopy(ctx, conn, t, version)
				s.BinaryTime = max(s.BinaryTime-rtt, 50*time.Microsecond)
				j.out[t.Key()] = s
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Whether bytes bound the copies matters only when text would be chosen for being smaller.
	var bytes int64
	var took time.Duration
	textSmaller := false
	for _, j := range jobs {
		for _, s := range j.out {
			textSmaller = textSmaller || plan.TextSmaller(s)
			bytes, took = bytes+s.Binary, took+s.BinaryTime
		}
	}
	if textSmaller && took > 0 {
		snap.CopyBytesPerSec = int64(float64(bytes) / took.Seconds())
		if link != nil {
			snap.LinkBytesPerSec = link.wait(ctx)
		} else {
			snap.LinkBytesPerSec = measureLink(ctx, m)
		}
	}
	return ctx.Err()
}

// LinkMeasure is measureLink running in the background (StartLinkMeasure).
type LinkMeasure struct {
	cancel context.CancelFunc
	done   chan struct{}
	rate   int64
}

// StartLinkMeasure starts measuring the links' speed (measureLink) for copy_format = "auto" in
// the background, so that it runs while the catalogs are read instead of after the samples:
// nearly a second of plan time on a capped or busy link. nil when copy_format is set (nothing is
// sampled). SampleCopyFormats takes it, or stops it when no sample favours text.
func StartLinkMeasure(ctx context.Context, m *config.Migration) *LinkMeasure {
	if f := m.Options.CopyFormat; f != config.CopyFormatAuto && f != "" {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &LinkMeasure{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.rate = measureLink(ctx, m)
	}()
	return l
}

// wait returns the measure once it is taken (0 when ctx ended first: the samples alone decide).
func (l *LinkMeasure) wait(ctx context.Context) int64 {
	select {
	case <-l.done:
		return l.rate
	case <-ctx.Done():
		return 0
	}
}

// Stop ends the measure (when it is not needed, or after wait) and waits for its connections to
// close. A nil LinkMeasure does nothing.
func (l *LinkMeasure) Stop() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
}

// linkProbeBytes is what measureLink sends each way, per try: enough that a fast link's transfer
// (3 ms at 300 MB/s) is not lost in a loopback round trip or a busy machine's scheduling delays,
// little enough that a slow link (10 Mbit/s) takes under a second a try.
const linkProbeBytes = 1 << 20

// linkTries is how many times measureLink times each of its two queries per link, alternating
// them: the best of each is the one least delayed by the other work of a busy machine.
const linkTries = 5

// measureLink returns how fast the slower link carries data, in bytes per second: from the source
// to pgferry (a value the source sends) and from pgferry to the target (a parameter sent to it),
// the way table data travels, both at once; 0 when a server cannot be reached (auto then keeps
// binary). Each link's time is that of a query moving linkProbeBytes over it less that of the same
// server work without the bytes on the wire (the source builds the value and sends its length;
// the target builds a value of that size itself), each the best of linkTries: what is left is the
// wire's, not the round trip's nor the CPU's, so that loopback on a busy machine reads as fast
// (its CPU shows in the samples' pace, plan.LinkBoundsCopy) and a capped link reads as its cap.
func measureLink(ctx context.Context, m *config.Migration) int64 {
	defer trace.StartRegion(ctx, "link measure").End()
	payload := strings.Repeat("x", linkProbeBytes)
	// The two links are measured at once: different servers, different links.
	var down, up int64
	var wg sync.WaitGroup
	wg.Go(func() {
		down = linkRate(ctx, m.Source, func(c *pgx.Conn) error {
			var b []byte
			return c.QueryRow(ctx, "SELECT repeat('x', $1)", linkProbeBytes).Scan(&b)
		}, func(c *pgx.Conn) error {
			var n int
			return c.QueryRow(ctx, "SELECT length(repeat('x', $1))", linkProbeBytes).Scan(&n)
		})
	})
	up = linkRate(ctx, m.Target, func(c *pgx.Conn) error {
		var n int
		return c.QueryRow(ctx, "SELECT length($1::text)", payload).Scan(&n)
	}, func(c *pgx.Conn) error {
		var n int
		return c.QueryRow(ctx, "SELECT length(repeat('x', $1))", linkProbeBytes).Scan(&n)
	})
	wg.Wait()
	if down == 0 || up == 0 {
		return 0
	}
	return min(down, up)
}

// linkRate is measureLink's speed of one link, to srv: linkProbeBytes over the best time of wire
// (moving them) less the best time of dry (the same server work, nothing moved), the two tried
// alternately linkTries times each; 0 when srv cannot be reached or a query fails.
func linkRate(ctx context.Context, srv *config.Server, wire, dry func(*pgx.Conn) error) int64 {
	conn, err := pgconn.Connect(ctx, srv, "")
	if err != nil {
		return 0
	}
	defer conn.Close(context.WithoutCancel(ctx))
	bestWire, bestDry := time.Duration(-1), time.Duration(-1)
	for range linkTries {
		for _, q := range []struct {
			f    func(*pgx.Conn) error
			best *time.Duration
		}{{wire, &bestWire}, {dry, &bestDry}} {
			start := time.Now()
			if err := q.f(conn); err != nil {
				return 0
			}
			if d := time.Since(start); *q.best < 0 || d < *q.best {
				*q.best = d
			}
		}
	}
	return linkBytesPerSec(linkProbeBytes, bestWire, bestDry)
}

// linkBytesPerSec is n bytes over the time wire took beyond dry, at least 50 µs (a wire time in
// the noise of loopback reads as 20 GB/s and more: fast).
func linkBytesPerSec(n int64, wire, dry time.Duration) int64 {
	return int64(float64(n) / max(wire-dry, 50*time.Microsecond).Seconds())
}

// sampleCopy measures the same sample of t's rows, of a source of version v, in both COPY formats,
// each as the copy would send it (copyExpr).
func sampleCopy(ctx context.Context, conn *pgx.Conn, t catalog.Table, v pgver.V) snapshot.CopySample {
	from := "ONLY " + t.Qualified()
	if pages := max(t.Pages, 1); pages > plan.CopySamplePages {
		from += fmt.Sprintf(" TABLESAMPLE SYSTEM (%.6f) REPEATABLE (0)", 100*float64(plan.CopySamplePages)/float64(pages))
	}
	var s snapshot.CopySample
	for _, f := range []string{config.CopyFormatText, config.CopyFormatBinary} {
		cols, _ := copyExprs(&t, f, v)
		q := fmt.Sprintf("COPY (SELECT %s FROM %s LIMIT %d) TO STDOUT WITH (FORMAT %s)", strings.Join(cols, ", "), from, plan.CopySampleRows(t), f)
		start := time.Now()
		n, rows, err := streamSize(ctx, conn, q)
		s.BinaryTime = time.Since(start) // the text sample's first, then the binary one's
		if err != nil {
			return snapshot.CopySample{Err: err.Error()}
		}
		if f == config.CopyFormatText {
			s.Text, s.Rows = n, rows
		} else {
			// The binary format's 19-byte header and 2-byte trailer are sent once per table.
			s.Binary = max(n-21, 0)
		}
	}
	return s
}

// byteCounter is an io.Writer that only counts.
type byteCounter int64

func (c *byteCounter) Write(p []byte) (int, error) { *c += byteCounter(len(p)); return len(p), nil }

var _ io.Writer = (*byteCounter)(nil)

// streamSize runs the COPY TO STDOUT q and returns the bytes it streamed and its rows.
func streamSize(ctx context.Context, conn *pgx.Conn, q string) (int64, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, copySampleTimeout)
	defer cancel()
	var n byteCounter
	tag, err := conn.PgConn().CopyTo(ctx, &n, q)
	if err != nil {
		return 0, 0, err
	}
	return int64(n), tag.RowsAffected(), nil
}
