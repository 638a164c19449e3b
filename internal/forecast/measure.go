package forecast

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	jpgconn "github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgconn"
)

// roundTrip is the fastest of a few empty queries: the connection's round trip.
func roundTrip(ctx context.Context, c *pgx.Conn) (time.Duration, error) {
	best := time.Duration(-1)
	for range 5 {
		start := time.Now()
		if _, err := c.PgConn().Exec(ctx, ";").ReadAll(); err != nil {
			return 0, err
		}
		if d := time.Since(start); best < 0 || d < best {
			best = d
		}
	}
	return best, nil
}

// settings reads what the target's configuration says about its writes: wal_level (minimal
// skips the WAL of a table loaded in the transaction that emptied it), wal_writer_flush_after,
// default_statistics_target.
func (pb *prober) settings() {
	set := map[string]catalog.Setting{}
	if pb.snap.Target != nil && pb.snap.Target.Settings != nil {
		set = pb.snap.Target.Settings
	}
	pb.r.WALLogged = set["wal_level"].Setting != "minimal"
	pb.r.WALFlushAfter = 1 << 20
	if s, ok := set["wal_writer_flush_after"]; ok {
		if n, err := strconv.ParseInt(s.Setting, 10, 64); err == nil && n > 0 {
			unit := int64(8192)
			if s.Unit == "kB" {
				unit = 1024
			}
			pb.r.WALFlushAfter = n * unit
		}
	}
	pb.r.AnalyzeRows = 30000
	if s, ok := set["default_statistics_target"]; ok {
		if n, err := strconv.ParseInt(s.Setting, 10, 64); err == nil && n > 0 {
			pb.r.AnalyzeRows = 300 * n
		}
	}
}

// tempName is a new name for a temporary table of the probe.
func (pb *prober) tempName() string {
	return fmt.Sprintf("pg_temp.pgferry_probe_%d", pb.temps.Add(1))
}

// timed runs sql on c and returns its time less one round trip (at least zero).
func timed(ctx context.Context, c *pgx.Conn, rtt time.Duration, sql string) (time.Duration, error) {
	start := time.Now()
	if _, err := c.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return 0, err
	}
	return max(time.Since(start)-rtt, 0), nil
}

// statements measures on the target a DDL statement's server time (CREATE TEMPORARY TABLE, as
// apply's session commits it: asynchronously) and a WAL flush (the same statement committed
// durably, less that). apply sends pre-data's statements pipelined, each its own message and
// transaction, without waiting for the replies in between: so are these, so that neither a round
// trip nor the client's wake-up between two statements (several milliseconds on a busy machine)
// counts as the server's time.
func (pb *prober) statements(ctx context.Context) error {
	rtt := pb.r.TargetRTT
	// The first temporary table of a session creates its schema: not measured.
	if _, err := timed(ctx, pb.tgt, rtt, "CREATE TEMPORARY TABLE "+pb.tempName()+" (a int, b text)"); err != nil {
		return fmt.Errorf("%s: creating a temporary table: %w", pb.m.Target.Label(), err)
	}
	creates := func(n int) []string {
		sqls := make([]string, n)
		for i := range sqls {
			sqls[i] = "CREATE TEMPORARY TABLE " + pb.tempName() + " (a int, b text)"
		}
		return sqls
	}
	async, err := pipelined3(ctx, pb.tgt, rtt, creates)
	if err != nil {
		return err
	}
	if _, err := pb.tgt.Exec(ctx, "SET synchronous_commit = local"); err != nil {
		return err
	}
	durable, err := pipelined3(ctx, pb.tgt, rtt, creates)
	if err != nil {
		return err
	}
	if _, err := pb.tgt.Exec(ctx, "SET synchronous_commit = off"); err != nil {
		return err
	}
	pb.r.Statement = async
	pb.r.WALFlush = max(durable-async, 0)
	return nil // its tables are dropped with the sample's (afterCopy): a round trip less
}

// statementBatch is how many statements pipelined3 sends at once.
const statementBatch = 4

// pipelined3 times three batches of statementBatch statements made by batch, each batch
// pipelined, and returns the fastest batch's time per statement: other work on a busy machine
// only ever slows a batch, so the fastest is the one least disturbed, and the one a repeated
// probe finds again (the median of three had priced the same plan up to half again as dear from
// one plan to the next).
func pipelined3(ctx context.Context, c *pgx.Conn, rtt time.Duration, batch func(n int) []string) (time.Duration, error) {
	ds := make([]time.Duration, 3)
	for i := range ds {
		var err error
		if ds[i], err = pipelined(ctx, c, rtt, batch(statementBatch)); err != nil {
			return 0, err
		}
	}
	return slices.Min(ds), nil
}

// pipelined sends each of sqls as its own Query message (its own transaction), all of them before
// reading any reply, as apply sends pre-data, and returns the time per statement, a round trip
// less.
func pipelined(ctx context.Context, c *pgx.Conn, rtt time.Duration, sqls []string) (time.Duration, error) {
	pc := c.PgConn()
	fe := pc.Frontend()
	start := time.Now()
	for _, sql := range sqls {
		fe.SendQuery(&pgproto3.Query{String: sql})
	}
	if err := fe.Flush(); err != nil {
		return 0, err
	}
	var failed error
	for done := 0; done < len(sqls); {
		msg, err := pc.ReceiveMessage(ctx)
		if err != nil {
			return 0, err
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			if failed == nil {
				failed = jpgconn.ErrorResponseToPgError(m)
			}
		case *pgproto3.ReadyForQuery:
			done++
		}
	}
	if failed != nil {
		return 0, failed
	}
	return max(time.Since(start)-rtt, 0) / time.Duration(len(sqls)), nil
}

// fastest3 runs sql three times on c and returns its fastest time less a round trip: the run
// least slowed by other work (pipelined3).
func fastest3(ctx context.Context, c *pgx.Conn, rtt time.Duration, sql string) (time.Duration, error) {
	ds := make([]time.Duration, 3)
	for i := range ds {
		var err error
		if ds[i], err = timed(ctx, c, rtt, sql); err != nil {
			return 0, err
		}
	}
	return slices.Min(ds), nil
}

// mean is the mean of ds (0 for none).
func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// sample copies the sample and measures what is done to it. It returns the shape copied, and
// whether it is the generic one.
func (pb *prober) sample(ctx context.Context, s *sampleTable) (shape, bool, error) {
	var shapes []shape
	if s != nil {
		shapes = append(shapes, tableShape(s, false), tableShape(s, true))
	}
	shapes = append(shapes, genericShape())
	var last error
	for i := 0; i < len(shapes); i++ {
		sh := shapes[i]
		generic := i == len(shapes)-1
		rows := int64(float64(sampleBytes) / max(sh.rowBytes, 1))
		if generic {
			rows = genericRows
		}
		// A first copy of a few rows warms both sessions up (catalog caches, the first pages):
		// apply's copies run on sessions that copied before. Then the sample in samplePieces
		// equal pieces, as apply copies (COPY to COPY through its buffer); the fastest counts
		// (the others were slowed by whatever else the busy server did). Reading the sample
		// whole before writing it, to time each side apart, was tried: the client's own reading,
		// under the same CPU contention, made the source look three to six times slower than
		// apply found it.
		pieces, names, err := pb.copyPieces(ctx, sh, max(rows/samplePieces, 1))
		if err == nil {
			k := 0
			var total copyResult
			for j, p := range pieces {
				if p.elapsed < pieces[k].elapsed {
					k = j
				}
				total.rows, total.elapsed = total.rows+p.rows, total.elapsed+p.elapsed
			}
			best, name := pieces[k], names[k]
			if best.rows == 0 && !generic {
				i = len(shapes) - 2 // an empty table: the generic shape next
				continue
			}
			bytes := best.tableBytes(sh)
			pb.r.CopyRate = float64(bytes) / max(best.elapsed.Seconds(), 1e-6)
			pb.r.WireRatio = float64(best.wire) / float64(max(bytes, 1))
			pb.firstRow = total.elapsed / time.Duration(max(total.rows, 1))
			if best.elapsed > 0 {
				pb.r.Noise = float64(slowest(pieces)-best.elapsed) / float64(best.elapsed)
			}
			pb.r.SampleRows = best.rows
			if !generic && bytes < minRateBytes {
				// A table this small copies in its fixed cost: its rate says nothing of how bytes
				// move (template0's copy by CREATE DATABASE, tables grown since). Rows of the
				// generic shape measure it. (By the table's size, not the bytes sent: a
				// character(n) column crosses without its padding, and a sample of pgbench_accounts
				// sends a quarter of what it holds.)
				g, err := pb.copySample(ctx, pb.src, pb.tgt, genericShape(), pb.tempName(), genericRows/2)
				if err != nil {
					return sh, generic, err
				}
				pb.r.CopyRate = float64(g.wire) / max(g.elapsed.Seconds(), 1e-6)
			}
			return sh, generic, pb.afterCopy(ctx, sh, name, best, bytes)
		}
		if ctx.Err() != nil || !targetRefused(err) {
			return sh, generic, err
		}
		// A type the target lacks: text, then the generic shape.
		last = err
		pb.tgt.Exec(ctx, "ROLLBACK")
	}
	return shape{}, true, fmt.Errorf("%s: loading a sample into a temporary table: %w", pb.m.Target.Label(), last)
}

// samplePieces is how many equal pieces the sample is copied in. Two: the copy rate is the
// fastest of two measures. While the sample crossed in binary with its character(n) padding, the
// first half took 1.6–2.0 times the second in each of 4 probes timed: the rate rested on one
// copy. Sent as apply sends it, either half can be the faster (first/second 0.55–2.3 in 13).
const samplePieces = 2

// copyPieces copies samplePieces pieces of rows rows of shape sh, each into its own temporary
// table (their names), after a first copy of a few rows.
func (pb *prober) copyPieces(ctx context.Context, sh shape, rows int64) ([]copyResult, []string, error) {
	if _, err := pb.copySample(ctx, pb.src, pb.tgt, sh, pb.tempName(), 10); err != nil {
		return nil, nil, err
	}
	pieces, names := make([]copyResult, samplePieces), make([]string, samplePieces)
	for k := range pieces {
		names[k] = pb.tempName()
		var err error
		if pieces[k], err = pb.copySample(ctx, pb.src, pb.tgt, sh, names[k], rows); err != nil {
			return nil, nil, err
		}
	}
	return pieces, names, nil
}

// slowest is the longest time of rs.
func slowest(rs []copyResult) time.Duration {
	var d time.Duration
	for _, r := range rs {
		d = max(d, r.elapsed)
	}
	return d
}

// minRateBytes is the least table (as the catalog sizes it) a sample piece must hold for its copy
// rate to count.
const minRateBytes = 1 << 20

// targetRefused reports whether err is the target refusing a statement (a missing type), not a
// lost connection.
func targetRefused(err error) bool {
	var pe interface{ SQLState() string }
	return errors.As(err, &pe)
}

// copyResult is one sample copy: the rows and wire bytes it moved, in elapsed.
type copyResult struct {
	rows, wire int64
	elapsed    time.Duration
}

// tableBytes is the sample's size as the catalog sizes the table (its rows times the table's
// bytes per row), or its bytes on the wire for the generic shape.
func (r copyResult) tableBytes(sh shape) int64 {
	if sh.rowBytes > 0 {
		return int64(float64(r.rows) * sh.rowBytes)
	}
	return r.wire
}

// copySample creates temporary table name of shape sh on tgt and copies up to rows rows into it
// from src, COPY to COPY in one transaction, as apply copies a table.
func (pb *prober) copySample(ctx context.Context, src, tgt *pgx.Conn, sh shape, name string, rows int64) (copyResult, error) {
	if _, err := tgt.Exec(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE %s (%s)", name, strings.Join(sh.columns, ", "))); err != nil {
		return copyResult{}, err
	}
	out := fmt.Sprintf("COPY (%s LIMIT %d) TO STDOUT WITH (FORMAT %s)", sh.out, max(rows, 1), sh.format)
	in := fmt.Sprintf("COPY %s FROM STDIN WITH (FORMAT %s)", name, sh.format)
	start := time.Now()
	if _, err := tgt.Exec(ctx, "BEGIN"); err != nil {
		return copyResult{}, err
	}
	// The very code apply copies with, so the sample is timed as the copies will be.
	n, wire, err := apply.PipeCopy(ctx, src, tgt, out, in, nil)
	if err != nil {
		tgt.Exec(ctx, "ROLLBACK")
		return copyResult{}, err
	}
	if _, err := tgt.Exec(ctx, "COMMIT"); err != nil {
		return copyResult{}, err
	}
	return copyResult{rows: n, wire: wire, elapsed: time.Since(start)}, nil
}

// afterCopy measures on the sample table name what apply does to a loaded table: the copy of a
// small table (its fixed cost), an index build, a foreign key's anti-join, ANALYZE, and verify's
// checksum and count.
func (pb *prober) afterCopy(ctx context.Context, sh shape, name string, res copyResult, bytes int64) error {
	rtt, tgt := pb.r.TargetRTT, pb.tgt
	rows := float64(max(res.rows, 1))
	// A small table's copy, on warm sessions: all of it is fixed cost (the fastest of three, as
	// the measures below).
	var smalls []time.Duration
	for range 3 {
		small, err := pb.copySample(ctx, pb.src, tgt, sh, pb.tempName(), 10)
		if err != nil {
			return err
		}
		smalls = append(smalls, small.elapsed)
	}
	pb.r.SmallCopy = slices.Min(smalls)
	// A table of the sample's columns created, pipelined as pre-data is.
	var err error
	pb.r.CreateTable, err = pipelined3(ctx, tgt, rtt, func(n int) []string {
		sqls := make([]string, n)
		for i := range sqls {
			sqls[i] = fmt.Sprintf("CREATE TEMPORARY TABLE %s (%s)", pb.tempName(), strings.Join(sh.columns, ", "))
		}
		return sqls
	})
	if err != nil {
		return err
	}
	// An index: the table's own btree columns when the sample has them, else its first column.
	index := fmt.Sprintf("CREATE INDEX ON %s %s", name, sh.index)
	first, err := timed(ctx, tgt, rtt, index)
	if sh.index == "" || err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		index = fmt.Sprintf("CREATE INDEX ON %s (%s)", name, sh.first)
		if first, err = timed(ctx, tgt, rtt, index); err != nil {
			return err
		}
	}
	// The fastest of three builds (one query on a busy server says little), the first included.
	builds := []time.Duration{first}
	for range 2 {
		d, err := timed(ctx, tgt, rtt, index)
		if err != nil {
			return err
		}
		builds = append(builds, d)
	}
	d := slices.Min(builds)
	pb.r.IndexRow = time.Duration(float64(d) / rows)
	// A foreign key's validation: an anti-join of the table with itself on its first column.
	join := fmt.Sprintf("SELECT count(*) FROM %[1]s a LEFT JOIN %[1]s b ON b.%[2]s = a.%[2]s WHERE b.%[2]s IS NULL", name, sh.first)
	if d, err = fastest3(ctx, tgt, rtt, join); err != nil {
		return err
	}
	pb.r.JoinRow = time.Duration(float64(d) / rows)
	// ANALYZE of the sample's first analyzeSample rows (the cost per row it samples).
	sub := pb.tempName()
	if _, err := tgt.Exec(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE %s AS SELECT * FROM %s LIMIT %d", sub, name, analyzeSample)); err != nil {
		return err
	}
	if d, err = fastest3(ctx, tgt, rtt, "ANALYZE "+sub); err != nil {
		return err
	}
	pb.r.AnalyzeRow = time.Duration(float64(d) / float64(min(max(res.rows, 1), analyzeSample)))
	// verify's checksum only when the migration verifies by checksum: it prices nothing else.
	if pb.m.Options.Verify == "checksum" {
		checksum := fmt.Sprintf("SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text FROM %s AS t", name)
		if pgconn.ServerVersion(tgt).AtLeast(11) {
			checksum = fmt.Sprintf("SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text FROM %s AS t", name)
		}
		if d, err = fastest3(ctx, tgt, rtt, checksum); err != nil {
			return err
		}
		pb.r.ChecksumRate = float64(bytes) / max(d.Seconds(), 1e-6)
	}
	// The scan rate prices verify's count and ANALYZE's pages.
	if d, err = fastest3(ctx, tgt, rtt, "SELECT count(*) FROM "+name); err != nil {
		return err
	}
	pb.r.ScanRate = float64(bytes) / max(d.Seconds(), 1e-6)
	pb.dropTemps(ctx, tgt)
	return nil
}

// pair is a source and a target session that a concurrent stream copies on.
type pair struct {
	src, tgt *pgx.Conn
	// connect is the time its slower side took to open.
	connect time.Duration
	err     error
}

// openStreams opens n pairs of sessions for the concurrent streams (contention) in the
// background, all at once, while the sample is measured: each new connection is an
// authentication (SCRAM's key derivation on both sides: 150–500 ms on a busy machine; a few round
// trips on a slow link), which then costs the probe no wall time of its own. pb.close closes them.
func (pb *prober) openStreams(ctx context.Context, n int) {
	pb.streams = make([]pair, n)
	pb.streamsOpen = make(chan struct{})
	go func() {
		defer close(pb.streamsOpen)
		var wg sync.WaitGroup
		for i := range pb.streams {
			p := &pb.streams[i]
			var src, tgt time.Duration
			var srcErr, tgtErr error
			var pw sync.WaitGroup
			start := time.Now()
			pw.Go(func() { p.src, srcErr = pb.openSource(ctx); src = time.Since(start) })
			pw.Go(func() { p.tgt, tgtErr = pb.openTarget(ctx); tgt = time.Since(start) })
			wg.Go(func() {
				pw.Wait()
				p.connect, p.err = max(src, tgt), errors.Join(srcErr, tgtErr)
			})
		}
		wg.Wait()
	}()
}

// closeStreams waits for openStreams and closes what it opened, its temporary tables dropped.
func (pb *prober) closeStreams(ctx context.Context) {
	if pb.streamsOpen == nil {
		return
	}
	<-pb.streamsOpen
	for _, p := range pb.streams {
		if p.tgt != nil {
			pb.dropTemps(ctx, p.tgt)
			p.tgt.Close(ctx)
		}
		if p.src != nil {
			p.src.Close(ctx)
		}
	}
}

// contention copies contentionBytes of the sample on pairs of sessions at once (the sample's and
// those openStreams opened, each after a first copy of a few rows as the sample's sessions had),
// and sets Contention to how much longer a row took among the others than in the sample.
func (pb *prober) contention(ctx context.Context, sh shape) error {
	rows := int64(float64(contentionBytes) / max(sh.rowBytes, 1))
	if sh.rowBytes <= 0 {
		rows = contentionBytes / 120
	}
	select {
	case <-pb.streamsOpen:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The sample's own sessions, warm already, are one of the streams.
	pairs := append([]pair{{src: pb.src, tgt: pb.tgt, connect: pb.r.Connect}}, pb.streams...)
	streams := len(pairs)
	errs := make([]error, streams)
	var wg sync.WaitGroup
	for i := 1; i < streams; i++ {
		if errs[i] = pairs[i].err; errs[i] == nil {
			wg.Go(func() { _, errs[i] = pb.copySample(ctx, pairs[i].src, pairs[i].tgt, sh, pb.tempName(), 10) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Opening a connection is an authentication, which a burst of other work slows: the fastest
	// of the pairs opened (each priced as its slower side) is the one a repeated probe finds again.
	connects := make([]time.Duration, streams)
	for i, p := range pairs {
		connects[i] = p.connect
	}
	pb.r.Connect = slices.Min(connects)
	perRow := make([]time.Duration, streams)
	for i, p := range pairs {
		wg.Go(func() {
			var r copyResult
			r, errs[i] = pb.copySample(ctx, p.src, p.tgt, sh, pb.tempName(), rows)
			perRow[i] = r.elapsed / time.Duration(max(r.rows, 1))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	pb.r.Streams = streams
	pb.r.Contention = max(1, float64(mean(perRow))/float64(max(pb.firstRow, time.Nanosecond)))
	return nil
}
