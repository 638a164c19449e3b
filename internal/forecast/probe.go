package forecast

import (
	"context"
	"errors"
	"fmt"
	"runtime/trace"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
)

// Probe measures the plan's servers cheaply and safely and prices every action of p from what it
// measured (Rates.Price): the model basis, for a migration without a rehearsal.
//
// What it measures, in about a second on a quiet machine (a few on a busy one): each server's
// connection time and round trip; on the target, the server time of a DDL statement and of a
// durable commit (a WAL flush), pipelined as apply sends pre-data; the first rows of the plan's
// largest table (about sampleBytes of it, read and sent as apply will: a character(n) without
// its padding, in the COPY format the plan chose for the table), copied as apply copies (COPY to
// COPY) into a temporary table on the target (and generated rows when that table
// is too small to show a rate); on that table an index build (the table's own primary key columns
// where it has one), an anti-join (a foreign key's validation), ANALYZE, a count (and verify's
// checksum when the migration verifies by checksum), each the fastest of three; with jobs > 1,
// copies on several new connections at once, for how much a stream slows beside others.
//
// It writes nothing but temporary tables in the target's maintenance database, which it drops
// and which the server drops with its sessions, and reads the source in a read-only transaction:
// a login with CREATEDB CREATEROLE and the right to create temporary tables is enough. A column
// whose type the target lacks is loaded as text; a table the target cannot hold even so, or a
// plan without tables, is measured with generated rows of a generic shape (and a wider range).
//
// It fails when a server cannot be reached, or when measuring takes over probeTimeout.
func Probe(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int) (*Estimate, error) {
	r, err := Measure(ctx, snap, p, jobs)
	if err != nil {
		return nil, err
	}
	r.CarriesStatistics = snap.Tools != nil && plan.CarriesStatistics(p.Target.VersionNum, snap.Tools.Release)
	durations, fixed, guessed := r.Price(p, jobs, snap.Migration.Options.Verify, snap.SourceDBs)
	return &Estimate{Basis: BasisModel, Durations: durations, Fixed: fixed,
		Prefetchable: r.Prefetchable(p, jobs, snap.Migration.Options.Verify, snap.SourceDBs), Spread: modelSpread(guessed, r.Generic, r.Noise),
		Extra: apply.ExtraLanes(jobs, max(r.SourceRTT, r.TargetRTT)), Analyses: r.Analyses(p, jobs, snap.Migration.Options.Verify, snap.SourceDBs)}, nil
}

// Measure takes the measures Probe prices the plan with (see Probe): for a caller that shows
// them, as the bench does. Its errors name the server and what failed; the caller says that it
// was measuring.
func Measure(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int) (Rates, error) {
	if snap == nil || snap.Migration == nil || p == nil {
		return Rates{}, errors.New("forecast: measuring needs the migration's snapshot and its plan")
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	r, err := measure(ctx, snap, p, max(jobs, 1))
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = fmt.Errorf("the servers did not answer within %s", probeTimeout)
	}
	return r, err
}

// probeTimeout bounds Probe: a server that answers this slowly makes no forecast.
const probeTimeout = 20 * time.Second

// sampleBytes is how much of the largest table the probe copies (by its size in the catalog, in
// samplePieces pieces), and contentionBytes how much each concurrent stream copies.
const (
	sampleBytes     = 4 << 20
	contentionBytes = 1 << 20
	maxStreams      = 4
)

// modelSpread is the range a model forecast carries: ±30% for what it measured (a sample of one
// table priced for all), widened by the share of the forecast that rests on guesses (extensions,
// large objects), when the sample could not be of the plan's own rows, and by how much two equal
// measures disagreed (a busy server: on the calibration machine, a probe taken in a burst of
// other work forecast up to three times the apply that followed).
func modelSpread(guessedShare float64, generic bool, noise float64) float64 {
	s := 0.3 + 0.6*guessedShare + min(max(noise, 0)/2, 0.3)
	if generic {
		s += 0.15
	}
	return min(s, 0.8)
}

// sampleTable is the table the probe copies a sample of.
type sampleTable struct {
	db string
	t  *catalog.Table
	// rowBytes is the table's size per row, as the catalog sizes it.
	rowBytes float64
	// index is the column list (and anything after it) of a btree index of the table, for the
	// sample's index build; "" when it has none.
	index string
	// text is set when the plan copies the table in text (its action's CopyFormat).
	text bool
	// v is the source's version: what apply reads a column by depends on it (apply.CopyExprs).
	v pgver.V
}

// largestTable picks the plan's largest table to copy (parts summed), with columns to copy.
func largestTable(snap *snapshot.Snapshot, p *plan.Plan) *sampleTable {
	type key struct{ db, schema, name string }
	sizes := map[key]int64{}
	text := map[key]bool{}
	var order []key
	for _, a := range p.Actions {
		if a.Type != plan.TypeTable && a.Type != plan.TypeTablePart {
			continue
		}
		k := key{a.Database, a.Schema, a.Name}
		if _, ok := sizes[k]; !ok {
			order = append(order, k)
		}
		sizes[k] += a.BytesEstimate
		text[k] = text[k] || a.CopyFormat == config.CopyFormatText
	}
	sort.SliceStable(order, func(i, j int) bool { return sizes[order[i]] > sizes[order[j]] })
	for _, k := range order {
		d := snap.SourceDBs[k.db]
		if d == nil {
			continue
		}
		for i := range d.Tables {
			t := &d.Tables[i]
			if t.Schema != k.schema || t.Name != k.name || t.Kind != "r" || copyColumnCount(t) == 0 || t.CopySize() == 0 {
				continue
			}
			s := &sampleTable{db: k.db, t: t, rowBytes: 100, text: text[k], v: p.Source.VersionNum}
			if t.RowEstimate > 0 {
				s.rowBytes = float64(t.CopySize()) / float64(t.RowEstimate)
			}
			for _, ix := range d.Indexes {
				if ix.Schema == t.Schema && ix.Table == t.Name && ix.Method == "btree" {
					if _, cols, ok := strings.Cut(ix.Def, " USING btree "); ok && (s.index == "" || ix.Primary) {
						s.index = cols
					}
				}
			}
			return s
		}
	}
	return nil
}

func copyColumnCount(t *catalog.Table) int {
	n := 0
	for _, c := range t.Columns {
		if !c.Generated {
			n++
		}
	}
	return n
}

// shape is what the sample copies: the source query's columns and the temporary table's.
type shape struct {
	// out is the source's COPY query without its LIMIT; format text or binary.
	out, format string
	// columns are the temporary table's column definitions, names the columns' quoted names.
	columns, names []string
	// first is the first column, indexed and joined on when the table has no btree index.
	first string
	// index is the sample's index definition after the table name ("(a, b)").
	index string
	// rowBytes is the table's size per row in the catalog (0 for the generic shape: its bytes
	// on the wire count).
	rowBytes float64
}

// tableShape is the shape of s's table as apply copies it: each column as apply reads it on the
// source (apply.CopyExprs: a character(n) without its padding, which the target's input pads back),
// in the plan's COPY format for the table (binary when the plan has not chosen yet); with text
// columns (in text format) when asText, or for a column whose type is not built in, as apply
// copies a table with a type the target may lack.
func tableShape(s *sampleTable, asText bool) shape {
	var sh shape
	binary := !asText && !s.text
	for _, c := range s.t.Columns {
		binary = binary && (c.Generated || c.Builtin)
	}
	format := config.CopyFormatText
	if binary {
		format = config.CopyFormatBinary
	}
	for _, c := range s.t.Columns {
		if c.Generated {
			continue
		}
		name := pgx.Identifier{c.Name}.Sanitize()
		typ := c.Type
		if !binary && (asText || !c.Builtin) {
			typ = "text"
		}
		sh.columns = append(sh.columns, name+" "+typ)
		sh.names = append(sh.names, name)
	}
	sh.first = sh.names[0]
	sh.format = "text"
	if binary {
		sh.format = "binary"
	}
	sh.out = fmt.Sprintf("SELECT %s FROM ONLY %s", strings.Join(apply.CopyExprs(s.t, format, s.v), ", "), s.t.Qualified())
	sh.index = s.index
	sh.rowBytes = s.rowBytes
	return sh
}

// genericShape is rows of an integer key and some text, made on the source by generate_series:
// for a plan without tables, or a table the target cannot hold.
func genericShape() shape {
	return shape{
		out:     fmt.Sprintf("SELECT i, md5(i::text) AS h, repeat(md5((i * 7)::text), 2) AS t, now() AS ts FROM generate_series(1, %d) i", genericRows),
		format:  "text",
		columns: []string{"i bigint", "h text", "t text", "ts timestamptz"},
		names:   []string{"i", "h", "t", "ts"},
		first:   "i",
	}
}

// analyzeSample is how many rows of the sample ANALYZE is timed on.
const analyzeSample = 3000

// genericRows is how many rows of the generic shape the source generates: about sampleBytes.
const genericRows = sampleBytes / 120

// prober holds the probe's connections and what it measured.
type prober struct {
	m        *config.Migration
	snap     *snapshot.Snapshot
	src, tgt *pgx.Conn
	srcDB    string
	r        Rates
	// temps counts the temporary tables made, for unique names.
	temps atomic.Int64
	// firstRow is the sample's time per row over both its halves, on sessions after their first
	// copy: the concurrent streams' mean time per row is compared with it (a mean of two on each
	// side: a single copy's time, beside a busy machine's bursts, made the slowdown measured
	// anywhere from none to 3.4 times on the same servers).
	firstRow time.Duration
	// streams are the sessions of the concurrent streams, opened meanwhile (openStreams) until
	// streamsOpen closes; nil when jobs is 1.
	streams     []pair
	streamsOpen chan struct{}
}

// measure takes every measure of Rates.
func measure(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, jobs int) (Rates, error) {
	pb := &prober{m: snap.Migration, snap: snap}
	defer pb.close()
	step := trace.StartRegion(ctx, "probe sessions")
	sample := largestTable(snap, p)
	if sample != nil {
		pb.srcDB = sample.db
	}
	// Both connections at once: each costs an authentication, which a busy server makes slow.
	// Sessions opened ahead (Predial) are taken when they are for this sample's database.
	ss := predialed(ctx, pb.srcDB, jobs)
	if ss == nil {
		ss = pb.dial(ctx)
	}
	err := ss.take(pb)
	step.End()
	if err != nil {
		return pb.r, err
	}
	var srcErr, tgtErr error
	var wg sync.WaitGroup
	// Each connection's round trip, both at once; then the streams' sessions are opened, not
	// while the round trips are timed (their authentications slowed them by up to a third).
	wg.Go(func() { pb.r.SourceRTT, srcErr = roundTrip(ctx, pb.src) })
	wg.Go(func() { pb.r.TargetRTT, tgtErr = roundTrip(ctx, pb.tgt) })
	wg.Wait()
	if err := errors.Join(srcErr, tgtErr); err != nil {
		return pb.r, err
	}
	if jobs > 1 {
		pb.openStreams(ctx, min(jobs, maxStreams)-1)
	}
	pb.settings()
	step = trace.StartRegion(ctx, "probe statements")
	err = pb.statements(ctx)
	step.End()
	if err != nil {
		return pb.r, err
	}
	step = trace.StartRegion(ctx, "probe sample")
	sh, generic, err := pb.sample(ctx, sample)
	step.End()
	pb.r.Generic = generic
	if err != nil {
		return pb.r, err
	}
	pb.r.Contention, pb.r.Streams = 1, 1
	if jobs > 1 {
		// A server out of connection slots (or a pooler's limit) leaves the streams unmeasured:
		// priced as if they did not slow each other, which the range then has to cover.
		step = trace.StartRegion(ctx, "probe contention")
		err := pb.contention(ctx, sh)
		step.End()
		if err != nil {
			if ctx.Err() != nil {
				return pb.r, err
			}
			pb.r.Contention, pb.r.Streams = 1, 1
		}
	}
	return pb.r, nil
}

// openTarget connects to the target's maintenance database with apply's session settings.
func (pb *prober) openTarget(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgconn.Connect(ctx, pb.m.Target, "")
	if err != nil {
		return nil, err
	}
	err = pgconn.SessionSettings(ctx, c, 0)
	if err == nil {
		_, err = c.Exec(ctx, "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'")
	}
	if err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

// openSource connects to the sample's database on the source, in a read-only transaction.
func (pb *prober) openSource(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgconn.Connect(ctx, pb.m.Source, pb.srcDB)
	if err != nil {
		return nil, err
	}
	if err := pgconn.SessionSettings(ctx, c, 0); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

func (pb *prober) close() {
	defer trace.StartRegion(context.Background(), "probe close").End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Closing the target's session drops its temporary tables; they are dropped first anyway,
	// so that a pooler keeping the session open keeps nothing.
	if pb.tgt != nil {
		pb.tgt.Exec(ctx, "ROLLBACK")
		pb.dropTemps(ctx, pb.tgt)
		pb.tgt.Close(ctx)
	}
	if pb.src != nil {
		pb.src.Close(ctx)
	}
	pb.closeStreams(ctx)
}

// dropTemps drops the probe's temporary tables of c's session.
func (pb *prober) dropTemps(ctx context.Context, c *pgx.Conn) {
	rows, err := c.Query(ctx, `SELECT c.relname::text FROM pg_catalog.pg_class c WHERE c.relnamespace = pg_catalog.pg_my_temp_schema() AND c.relkind = 'r' AND c.relname LIKE 'pgferry_probe%'`)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	if len(names) == 0 {
		return
	}
	// One statement for all: on a slow link each is a round trip.
	for i, n := range names {
		names[i] = "pg_temp." + pgx.Identifier{n}.Sanitize()
	}
	c.Exec(ctx, "DROP TABLE IF EXISTS "+strings.Join(names, ", "))
}
