package forecast

import (
	"math"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/plan"
)

// The model basis prices every action of a plan from rates measured on these servers (Probe,
// probe.go). The pricing itself, here, is pure: rates times sizes, so that it is tested without
// servers and a reader can follow any action's price to the measure it comes from.

// Rates are the model's measures of the servers: what Probe measured (or a test sets).
type Rates struct {
	// SourceRTT and TargetRTT are one round trip on each connection; Connect is opening one
	// connection (the slower side's).
	SourceRTT, TargetRTT, Connect time.Duration
	// CopyRate is how many bytes of table, as the catalog sizes it (heap and TOAST: an action's
	// BytesEstimate), one stream moves per second from the source into the target as apply copies
	// (COPY to COPY through its buffer), WAL aside: the sample is written into a temporary table,
	// which logs none. WireRatio is the bytes COPY sends per byte of table.
	CopyRate, WireRatio float64
	// SmallCopy is what a copy costs besides its bytes: opening COPY on both sides, the
	// transaction and its commit (measured on a copy of a few rows).
	SmallCopy time.Duration
	// WALFlush is one flush of the target's WAL to disk (0 without fsync): what a durable commit
	// waits for. WALFlushAfter is the WAL the WAL writer writes between flushes
	// (wal_writer_flush_after). WALLogged is false when the target skips WAL for tables loaded in
	// the transaction that emptied them (wal_level minimal).
	WALFlush      time.Duration
	WALFlushAfter int64
	WALLogged     bool
	// IndexRow is building a btree index over the sample, per row of it (scan, sort, write),
	// measured on SampleRows rows.
	IndexRow   time.Duration
	SampleRows int64
	// JoinRow is the anti-join a foreign key's validation runs (the sample joined to itself),
	// per row of the sample.
	JoinRow time.Duration
	// AnalyzeRow is ANALYZE per row it samples, AnalyzeRows the rows it samples at most
	// (300 × default_statistics_target).
	AnalyzeRow  time.Duration
	AnalyzeRows int64
	// ScanRate and ChecksumRate are bytes of table per second that verify's count and checksum
	// read on one connection.
	ScanRate, ChecksumRate float64
	// Statement is the target's server time for one DDL statement (a small CREATE TEMPORARY
	// TABLE), without its round trip; CreateTable is that of the sample's temporary table, with
	// the sampled table's columns. Both are timed pipelined, as apply sends pre-data.
	Statement, CreateTable time.Duration
	// Contention is how much longer one stream takes while Streams run at once (1: no effect),
	// measured with Streams concurrent sample copies; Streams is 1 when jobs is 1.
	Contention float64
	Streams    int
	// Noise is how much the sample's two equal halves disagreed: (slower − faster) / faster.
	Noise float64
	// Generic is set when the sample is not of the plan's rows (a plan without tables, or a table
	// the target could not hold even as text): generated rows of a generic shape.
	Generic bool
	// CarriesStatistics is set when apply carries the source's planner statistics over instead of
	// running ANALYZE (plan.CarriesStatistics: a PostgreSQL 18 target and pg_dump 18): no measure,
	// the servers' versions.
	CarriesStatistics bool
}

// walCPU is the part of a durable load's cost that a temporary table does not show: WAL record
// assembly, its CRC and insertion, relative to the load itself. Calibrated on PostgreSQL 15 by
// loading the same rows into a temporary and a regular table (10–20% more), and against applies.
const walCPU = 0.1

// copyBuffer is how much of the source's rows apply's copy gathers before the target sees any
// (its buffered writer): a copy of up to that much on the wire runs its two sides one after the
// other, as the sample mostly does; a longer one overlaps them, up to twice as fast when the two
// sides cost alike. Measured: pgbench_accounts (256 MB) copied at 1.5–2.5 times the rate of a
// 2 MB sample of it through the same pipe, on the same sessions.
const copyBuffer = 1 << 20

// preDataWindow is about how many pre-data entries apply sends per round trip: its pipeline's
// 64 KiB window over entries of a few hundred bytes.
const preDataWindow = 100

// ddlTable is how much dearer pg_dump's CREATE TABLE is than the same CREATE TEMPORARY TABLE: it
// creates the table's files (and its TOAST table's) durably and WAL-logs its catalog rows, and
// comes with its owner and defaults. Calibrated against pre-data of 200 tables on PostgreSQL 15.
const ddlTable = 4

// createDatabaseBytes is what CREATE DATABASE copies from template0 (its size on PostgreSQL 15–18).
const createDatabaseBytes = 7.5 * (1 << 20)

// guess marks the prices that are no measure: an extension's script, large objects' contents.
const (
	extensionCost = 60 * time.Millisecond
	// pgDumpStart is pg_dump's and pg_restore's start: five processes, the queries every dump
	// makes whatever the database holds, beside connections (priced as measured); pgDumpEntry is
	// their cost per archive entry. Calibrated against applies of 4 and 1,100 entries.
	pgDumpStart = 300 * time.Millisecond
	pgDumpEntry = 500 * time.Microsecond
)

// pricing is what the prices of one plan share: the rates, the jobs setting, and each selected
// source database's tables by key.
type pricing struct {
	r      Rates
	jobs   int
	verify string
	dbs    map[string]*catalog.Database
	tables map[string]map[string]*catalog.Table // database → schema.name → table
	// contention is the slowdown of the heavy actions of each database (contentionFor).
	contention map[string]float64
	// guessed is the time priced by guesses rather than measures.
	guessed time.Duration
	// methods and refs are each database's index methods (schema, name → method) and foreign
	// keys' referenced tables (schema, table, name → schema.name), so that pricing an index or a
	// constraint is a lookup, not a scan of all of them (quadratic: hours at 100,000 tables).
	methods, refs map[string]map[string]string
}

func newPricing(r Rates, jobs int, verify string, dbs map[string]*catalog.Database) *pricing {
	pr := &pricing{r: r, jobs: max(jobs, 1), verify: verify, dbs: dbs, tables: map[string]map[string]*catalog.Table{}, contention: map[string]float64{},
		methods: map[string]map[string]string{}, refs: map[string]map[string]string{}}
	for name, d := range dbs {
		if d == nil {
			continue
		}
		m := map[string]*catalog.Table{}
		for k := range d.Tables {
			m[d.Tables[k].Key()] = &d.Tables[k]
		}
		pr.tables[name] = m
		methods, refs := map[string]string{}, map[string]string{}
		for _, ix := range d.Indexes {
			if _, ok := methods[ix.Schema+"\x00"+ix.Name]; !ok {
				methods[ix.Schema+"\x00"+ix.Name] = ix.Method
			}
		}
		for _, c := range d.Constraints {
			if k := c.Schema + "\x00" + c.Table + "\x00" + c.Name; !hasKey(refs, k) {
				refs[k] = c.RefTable
			}
		}
		pr.methods[name], pr.refs[name] = methods, refs
	}
	return pr
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// Price prices every action of p (Durations, by index) and apply's serial time outside the
// actions' graph (Fixed), and returns the share of the total that rests on guesses rather than
// measures.
func (r Rates) Price(p *plan.Plan, jobs int, verify string, dbs map[string]*catalog.Database) (durations []time.Duration, fixed time.Duration, guessedShare float64) {
	pr := newPricing(r, jobs, verify, dbs)
	for _, db := range p.Databases {
		pr.contention[db] = pr.contentionFor(p, db)
	}
	durations = make([]time.Duration, len(p.Actions))
	var total time.Duration
	for i, a := range p.Actions {
		durations[i] = max(pr.action(a), time.Millisecond)
		total += durations[i]
	}
	fixed = pr.fixed(p)
	total += fixed
	if total > 0 {
		guessedShare = float64(pr.guessed) / float64(total)
	}
	return durations, fixed, guessedShare
}

// seconds turns a float number of seconds into a duration.
func seconds(s float64) time.Duration {
	if s <= 0 || math.IsNaN(s) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// perByte is the time of n bytes at rate bytes/s (0 when the rate is unknown).
func perByte(n int64, rate float64) time.Duration {
	if n <= 0 || rate <= 0 {
		return 0
	}
	return seconds(float64(n) / rate)
}

// wal is the cost of writing n bytes durably beyond the load itself (load: its write time): the
// WAL's CPU, when the target logs it. The WAL writer's flushes run beside the load (apply's
// sessions commit asynchronously): they are no cost of it. Measured apart (WALFlush), a flush
// under load took 5–70 ms per megabyte on the calibration machine, and pricing it per megabyte
// doubled the forecast copy of a 256 MB table that took 18 s.
func (pr *pricing) wal(n int64, load time.Duration) time.Duration {
	if !pr.r.WALLogged || n <= 0 {
		return 0
	}
	return time.Duration(float64(load) * walCPU)
}

// statement is one statement on the target: its round trip and server time.
func (pr *pricing) statement(n int) time.Duration {
	return time.Duration(n) * (pr.r.TargetRTT + pr.r.Statement)
}

// action prices one action.
func (pr *pricing) action(a *plan.Action) time.Duration {
	r := pr.r
	// The heavy actions of a database run beside one another as far as its copies can: the
	// indexes and foreign keys of many alike tables share the lanes as their copies did, while
	// one table that dominates the copies also builds its indexes and checks its keys with
	// little else running (contentionFor).
	c := pr.contention[a.Database]
	if c < 1 {
		c = 1
	}
	switch a.Type {
	case plan.TypeRole:
		// CREATE ROLE, its attributes, comment, settings: a few statements.
		return pr.statement(3)
	case plan.TypeMembership, plan.TypeLoginMembership, plan.TypeParameter:
		return pr.statement(1)
	case plan.TypeDatabase:
		// pg_restore --create prints the script; CREATE DATABASE copies template0 (WAL-logged on
		// 15 and later) and commits durably; the rest runs connected to the new database.
		load := perByte(createDatabaseBytes, r.CopyRate)
		return 2*r.Connect + 50*time.Millisecond + pr.statement(6) + load + pr.wal(createDatabaseBytes, load) + r.WALFlush
	case plan.TypeExtension:
		pr.guessed += extensionCost
		return pr.statement(3) + extensionCost
	case plan.TypeSchema:
		// One statement per pre-data entry of pg_dump, each committed, on one connection; a
		// table's is dearer. apply pipelines them (apply/schema.go: 64 KiB of entries before
		// their replies are read): a round trip per preDataWindow entries, not per entry.
		tables, others := preDataEntries(pr.dbs[a.Database])
		trips := 1 + (tables+others)/preDataWindow
		return r.Connect + time.Duration(trips)*r.TargetRTT + time.Duration(others)*r.Statement +
			time.Duration(tables)*ddlTable*max(r.CreateTable, r.Statement)
	case plan.TypeTable:
		if a.Parts > 0 {
			return pr.statement(2) // TRUNCATE: its parts copy the rows
		}
		return pr.copy(a.BytesEstimate, c)
	case plan.TypeTablePart:
		return pr.copy(a.BytesEstimate, c)
	case plan.TypeExtData:
		return pr.copy(a.BytesEstimate, 1) + pr.statement(2)
	case plan.TypeLargeObj:
		// Per object: created, owned, written in one or more lo_put, read from the source. Their
		// contents' size is not in the catalog a non-superuser can read: a guess of 8 kB each.
		per := 4*r.TargetRTT + 2*r.SourceRTT + 2*r.Statement
		g := time.Duration(a.RowsEstimate) * pr.copyTime(8<<10)
		pr.guessed += g
		return time.Duration(a.RowsEstimate)*per + g
	case plan.TypeIndex:
		return pr.index(a, c)
	case plan.TypeConstraint:
		return pr.constraint(a, c)
	case plan.TypeSequences:
		n := 0
		if d := pr.dbs[a.Database]; d != nil {
			n = len(d.Sequences)
		}
		return r.TargetRTT + time.Duration(n)*r.Statement/4
	case plan.TypePostData:
		return r.TargetRTT*2 + pr.statement(postDataEntries(pr.dbs[a.Database]))
	case plan.TypeOwnership:
		return pr.statement(2)
	case plan.TypeAnalyze:
		return pr.analyze(a.Database)
	case plan.TypeVerify:
		return pr.verifyCost(a.Database, c)
	}
	return pr.statement(1)
}

// copy is one table's (or part's) copy of bytes: its fixed cost, the stream, the WAL.
func (pr *pricing) copy(bytes int64, contention float64) time.Duration {
	load := pr.copyTime(bytes)
	return pr.r.SmallCopy + time.Duration(float64(load+pr.wal(bytes, load))*contention)
}

// copyTime is the stream of a copy of bytes of table: at the sample's rate for what fits in
// copyBuffer, both sides overlapped (twice the rate) beyond.
func (pr *pricing) copyTime(bytes int64) time.Duration {
	r := pr.r
	serial := bytes
	if r.WireRatio > 0 {
		serial = min(bytes, int64(copyBuffer/r.WireRatio))
	}
	return perByte(serial, r.CopyRate) + perByte(bytes-serial, 2*r.CopyRate)
}

// table is the source table an index or a constraint is on, nil when unknown.
func (pr *pricing) table(db, schema, name string) *catalog.Table {
	return pr.tables[db][schema+"."+name]
}

// rows is a table's row count, estimated from its size when it was never analyzed.
func (pr *pricing) rows(t *catalog.Table) int64 {
	if t == nil {
		return 0
	}
	if t.RowEstimate >= 0 {
		return t.RowEstimate
	}
	return t.CopySize() / 100
}

// methodFactor is how much dearer an index method is than a btree over the same rows: GIN and GiST
// build per key, and their keys are many per row (a coarse factor, not measured).
func methodFactor(method string) float64 {
	switch method {
	case "gin":
		return 3
	case "gist", "spgist":
		return 4
	case "brin":
		return 0.2
	case "hash":
		return 1.2
	}
	return 1
}

// index prices one index build: the statement; the sync of the new index's file (a build
// writes the index outside shared buffers and syncs its file before it commits, whether it logged
// its pages or not: one flush, WALFlush, which the probe's build on a temporary table does not
// pay); and the sample's per-row build cost (buildRow) per row of the table, with the index's
// WAL.
func (pr *pricing) index(a *plan.Action, contention float64) time.Duration {
	r := pr.r
	t := pr.table(a.Database, a.Schema, a.Table)
	n := pr.rows(t)
	method := "btree"
	if m, ok := pr.methods[a.Database][a.Schema+"\x00"+a.Name]; ok {
		method = m
	}
	// Per row as on the sample: for the sizes a probe sees, sorting's log n is lost in scanning and
	// forming the index tuples (pgbench's 2M-row primary key builds at the sample's rate).
	build := time.Duration(float64(n) * float64(r.buildRow()) * methodFactor(method))
	build += pr.wal(a.BytesEstimate, perByte(a.BytesEstimate, r.CopyRate))
	return pr.statement(1) + r.WALFlush + time.Duration(float64(build)*contention)
}

// buildRow is the sample's index build per row (IndexRow) less what any build costs whatever
// its rows, a DDL statement's (Statement), which the action's statement pays already: on a
// sample of a few rows the build is all fixed cost, and its time per row is no rate. Measured:
// 500 one-row tables' 1,000 indexes took 9–10 ms each, priced 13–17 ms when the one-row
// sample's whole build was taken per row (and slowed by the copies' contention).
func (r Rates) buildRow() time.Duration {
	if r.SampleRows <= 0 {
		return r.IndexRow
	}
	total := float64(r.IndexRow) * float64(r.SampleRows)
	return time.Duration(max(total-float64(r.Statement), 0) / float64(r.SampleRows))
}

// constraint prices a foreign key: its validation is an anti-join of the table with the one it
// references, as the server plans it on the sizes it sees (both tables just loaded, their sizes
// known): every row of the table is read and looked up, and the referenced side costs a lookup
// per row of whichever is smaller: the referenced table hashed whole, or, when the table holds
// fewer rows, probed through its unique index once per row. The probe's self anti-join (JoinRow)
// hashes every row of the sample and looks every row up: a row of either side is half of it.
// Measured on pgbench's foreign keys (PostgreSQL 15, under load): 2M rows to 20 checked in
// 0.85–1.0 s once it had its locks (the rest of the 2.3–4.5 s it took was waiting for the
// primary key's build), 0 rows to 2M in a few milliseconds once ANALYZE of the referenced table,
// which it waited for, was done. What a foreign key waits for is the simulation's (tableLocks).
func (pr *pricing) constraint(a *plan.Action, contention float64) time.Duration {
	r := pr.r
	rows := float64(pr.rows(pr.table(a.Database, a.Schema, a.Table)))
	n := rows / 2
	if ref, ok := pr.refs[a.Database][a.Schema+"\x00"+a.Table+"\x00"+a.Name]; ok {
		n += min(float64(pr.rows(pr.tables[a.Database][ref])), rows) / 2
	}
	return pr.statement(1) + time.Duration(n*float64(r.JoinRow)*contention)
}

// statistics is the price of one table's planner statistics: restored from the source's where
// apply carries them over (CarriesStatistics, and plan.StatisticsCarriable: the table has no
// extended statistics and was counted on the source), else its ANALYZE. A restore is one
// statement (the table's pg_restore_relation_stats and pg_restore_attribute_stats calls in one
// SELECT) that reads no table: the many-tables set's 200 tables took 0.0 s on PostgreSQL 18, where
// vacuumdb -Z took 1.2 s.
func (pr *pricing) statistics(t *catalog.Table) time.Duration {
	if pr.r.CarriesStatistics && t != nil && plan.StatisticsCarriable(t) {
		return pr.statement(1)
	}
	return pr.analyzeTable(t)
}

// analyzeTable is one table's ANALYZE: the pages it reads (one per sampled row, at most the
// table's) at the scan rate (its block sample is read in block order, and a table just loaded and
// indexed is in the cache), its sampled rows, and its statement. Measured: pgbench_accounts (2M
// rows, 32,787 pages) analyzed in 0.7–0.95 s while counting it took 0.8–1.5 s.
func (pr *pricing) analyzeTable(t *catalog.Table) time.Duration {
	if t == nil {
		return pr.statement(1)
	}
	rows := min(pr.rows(t), max(pr.r.AnalyzeRows, 1))
	pages := min(t.Pages, max(pr.r.AnalyzeRows, 1))
	return pr.statement(1) + time.Duration(rows)*pr.r.AnalyzeRow + perByte(pages*8192, pr.r.ScanRate)
}

// analyze prices the database's analyze action. apply analyzes each loaded table on a lane of
// its own as soon as everything on it is done, beside the graph (Analyses prices those; the
// simulation replays the lane, and adds to this action what the lane has not reached when it
// starts); the action analyzes what is left: partitioned and inheritance parents and tables with
// extended statistics, jobs at a time. It starts on the lane's connection (apply's takeConn) when
// the lane had one, and opens one when the database has no table for the lane.
func (pr *pricing) analyze(db string) time.Duration {
	d := pr.dbs[db]
	if d == nil {
		return pr.r.Connect
	}
	var rest time.Duration
	connect := pr.r.Connect
	for k := range d.Tables {
		if t := &d.Tables[k]; !earlyAnalyzed(t) {
			rest += pr.statistics(t)
		} else {
			connect = 0
		}
	}
	return connect + pr.statement(1) + rest/time.Duration(pr.jobs)
}

// earlyAnalyzed reports whether apply's analyze lane gathers a table's statistics once the table
// is loaded (apply.earlyAnalyzable), rather than the analyze action.
func earlyAnalyzed(t *catalog.Table) bool {
	return t.Kind == "r" && !t.IsPartition && !t.HasInheritChildren && !t.HasExtendedStats
}

// Analyses prices the ANALYZE statements apply's analyze lane runs beside the graph
// (Estimate.Analyses): by database, every table the plan loads that the lane may analyze, with
// its ANALYZE or statistics restore (statistics); none for a database without an analyze action.
func (r Rates) Analyses(p *plan.Plan, jobs int, verify string, dbs map[string]*catalog.Database) map[string]map[string]time.Duration {
	pr := newPricing(r, jobs, verify, dbs)
	analyzed := map[string]bool{}
	for _, a := range p.Actions {
		if a.Type == plan.TypeAnalyze {
			analyzed[a.Database] = true
		}
	}
	out := map[string]map[string]time.Duration{}
	for _, a := range p.Actions {
		if !analyzed[a.Database] || (a.Type != plan.TypeTable && a.Type != plan.TypeTablePart) {
			continue
		}
		t := pr.table(a.Database, a.Schema, a.Name)
		if t == nil || !earlyAnalyzed(t) {
			continue
		}
		if out[a.Database] == nil {
			out[a.Database] = map[string]time.Duration{}
		}
		out[a.Database][t.Key()] = pr.statistics(t)
	}
	return out
}

// verifyCost prices the verify action: the target's catalog read, then every table counted or
// checksummed on both sides at once, jobs/2 connections a side.
func (pr *pricing) verifyCost(db string, contention float64) time.Duration {
	d := pr.dbs[db]
	if d == nil || pr.verify == "none" {
		return 0
	}
	rate := pr.r.ChecksumRate
	if pr.verify == "count" {
		rate = pr.r.ScanRate
	}
	conns := max(1, pr.jobs/2)
	var sum, longest time.Duration
	for k := range d.Tables {
		t := &d.Tables[k]
		if t.Kind != "r" {
			continue
		}
		c := pr.r.TargetRTT + perByte(t.CopySize(), rate)
		sum += c
		longest = max(longest, c)
	}
	// The tables are shared among conns connections: no faster than the longest table.
	work := max(sum/time.Duration(conns), longest)
	return 2*pr.r.Connect + catalogRead(d, pr.r) + time.Duration(float64(work)*contention)
}

// catalogRead is reading a database's catalog (verify reads the target's): a few dozen queries,
// and rows per object.
func catalogRead(d *catalog.Database, r Rates) time.Duration {
	return 40*r.TargetRTT + time.Duration(len(d.Tables)*3+len(d.Indexes)+len(d.Constraints))*20*time.Microsecond
}

// preDataEntries estimates pg_dump's pre-data entries of a database: its tables, and the rest:
// one per schema, sequence (and its OWNED BY), view, function, type; comments and privileges
// aside.
func preDataEntries(d *catalog.Database) (tables, others int) {
	if d == nil {
		return 0, 1
	}
	others = len(d.Schemas) + len(d.Sequences)
	for k, c := range d.Objects {
		switch k {
		case "indexes", "constraints", "triggers", "rules", "policies":
			continue // post-data
		case "tables":
			tables += c
			continue
		}
		others += c
	}
	return tables, others
}

// postDataEntries estimates the entries of post-data that the post_data action runs: triggers,
// rules, policies, check constraints aside (pre-data), and the constraints that are neither
// indexes nor foreign keys.
func postDataEntries(d *catalog.Database) int {
	if d == nil {
		return 1
	}
	n := d.Objects["triggers"] + d.Objects["rules"] + d.Objects["policies"] + d.Objects["materialized_views"]
	return max(n, 1)
}

// contentionFor is the slowdown of one database's copies from running jobs at once: the measured
// Contention scaled by how many copies can run at once, the total of the copies over the longest
// one, at most jobs; one long table copied alone is not slowed down.
func (pr *pricing) contentionFor(p *plan.Plan, db string) float64 {
	r := pr.r
	if pr.jobs < 2 || r.Streams < 2 || r.Contention <= 1 {
		return 1
	}
	var total, longest time.Duration
	for _, a := range p.Actions {
		if a.Database != db || (a.Type != plan.TypeTable && a.Type != plan.TypeTablePart) {
			continue
		}
		c := pr.copy(a.BytesEstimate, 1)
		total += c
		longest = max(longest, c)
	}
	if longest <= 0 {
		return 1
	}
	par := min(float64(pr.jobs), float64(total)/float64(longest))
	if par <= 1 {
		return 1
	}
	// Interpolate between 1 (one stream) and the measured slowdown at Streams streams.
	return 1 + (r.Contention-1)*min(par-1, float64(r.Streams-1))/float64(r.Streams-1)
}

// fixed is apply's serial time outside the actions' graph: per database, opening its source
// (sourceOpen) and the target connection the durability barrier uses; and the run's own
// connections.
func (pr *pricing) fixed(p *plan.Plan) time.Duration {
	r := pr.r
	var d time.Duration
	for _, a := range p.Actions {
		if a.Database == "" {
			d += 2 * r.Connect // instance actions: both catalogs are read first
			break
		}
	}
	for _, db := range p.Databases {
		has := false
		for _, a := range p.Actions {
			if a.Database == db {
				has = true
				break
			}
		}
		if !has {
			continue
		}
		d += pr.sourceOpen(db) + r.Connect // the barrier's connection
	}
	return d
}

// sourceOpen is what apply does first for database db before any action: the snapshot's
// connection, pg_dump's (and its queries), then pg_restore's four reads of the archive at once;
// the catalog is read meanwhile. Process starts and connections cost alike on a busy machine: both
// scale with Connect.
func (pr *pricing) sourceOpen(db string) time.Duration {
	r := pr.r
	tables, others := preDataEntries(pr.dbs[db])
	entries := tables + others + postDataEntries(pr.dbs[db])
	if sd := pr.dbs[db]; sd != nil {
		entries += len(sd.Indexes) + len(sd.Constraints)
	}
	dump := pgDumpStart + 6*r.Connect + time.Duration(entries)*pgDumpEntry + 100*r.SourceRTT
	return r.Connect + 3*r.SourceRTT + dump
}

// Prefetchable is the part of Price's fixed time that an apply without a prompt (apply
// --auto-approve, apply PLANFILE) does while its plan is made: the first database's snapshot and
// schema dump (apply.StartPrefetch), so that its run does not wait for them.
func (r Rates) Prefetchable(p *plan.Plan, jobs int, verify string, dbs map[string]*catalog.Database) time.Duration {
	pr := newPricing(r, jobs, verify, dbs)
	for _, db := range p.Databases {
		for _, a := range p.Actions {
			if a.Database == db {
				return pr.sourceOpen(db)
			}
		}
	}
	return 0
}
