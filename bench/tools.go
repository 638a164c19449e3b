package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgtest"
)

// A tool is one way to move a database from the source to a fresh target.
type tool struct {
	id, name string
	// onlyFor limits the tool to these datasets (nil: all).
	onlyFor []string
	// prepare runs untimed before each run, after the target database was dropped; the timed
	// command creates the target database (createDB), as pgferry does.
	prepare func(ctx context.Context, e *env, r *runCtx) error
	// command is the timed command.
	command func(e *env, r *runCtx) *exec.Cmd
	// after runs untimed after a successful run, before the row counts are checked.
	after func(ctx context.Context, e *env, r *runCtx, res *runResult) error
	// floor checks only the largest table.
	floor bool
	// fieldOnly tools run only when named (-tools, -field-tools, a field mode), not in "all".
	fieldOnly bool
	// minDumpMajor is the oldest pg_dump the tool works with (0: any).
	minDumpMajor int
}

// runCtx is one run of one tool on one dataset.
type runCtx struct {
	ds   string
	run  int
	dir  string // fresh working directory
	log  string
	big  bigTable // the dataset's largest table (for the floor)
	size int64    // the dataset's size on the source
	tool *tool
}

type bigTable struct {
	// Key is the table's name as inventory keys it (quote_ident, dotted).
	Key, Schema, Name, PKDef, PKName string
	Rows                             int64
}

func (b bigTable) qualified() string { return pgx.Identifier{b.Schema, b.Name}.Sanitize() }

func toolIDs() []string {
	var ids []string
	for _, t := range tools() {
		ids = append(ids, t.id)
	}
	return ids
}

func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func bash(script string) *exec.Cmd { return exec.Command("bash", "-o", "pipefail", "-ec", script) }

// createDB makes the empty target database that pg_restore and pgcopydb restore into, through
// the tools' link to the target: the first line of their timed script. Every tool's time includes
// creating the target database, as pgferry's apply does (it cannot leave it out): on a new target
// a DBA runs createdb before pg_restore or pgcopydb, and CREATE DATABASE costs a few hundred
// milliseconds with fsync on (PostgreSQL 15 copies the template through the WAL).
func createDB(e *env, r *runCtx) string {
	return fmt.Sprintf("%s -X -q -v ON_ERROR_STOP=1 -d %s -c %s", sq(filepath.Join(e.bin, "psql")), sq(e.tgtLink().DSN("postgres")),
		sq(fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{r.ds}.Sanitize())))
}

func tools() []*tool {
	pgDump := func(id, name, dumpFlags string, dir bool, analyze ...bool) *tool {
		return &tool{id: id, name: name,
			command: func(e *env, r *runCtx) *exec.Cmd {
				bin := func(p string) string { return sq(filepath.Join(e.dumpBin, p)) }
				src, tgt := sq(e.srcLink().DSN(r.ds)), sq(e.tgtLink().DSN(r.ds))
				j := fmt.Sprint(e.o.jobs)
				if dir {
					d := sq(filepath.Join(r.dir, "dump"))
					script := fmt.Sprintf("%s\n%s -Fd -j%s %s -f %s -d %s\n%s -j%s -d %s %s",
						createDB(e, r), bin("pg_dump"), j, dumpFlags, d, src, bin("pg_restore"), j, tgt, d)
					if len(analyze) > 0 && analyze[0] {
						// What a DBA runs next, and what pgferry's apply includes: statistics.
						// vacuumdb of the clusters' major (the newer clients hold only pg_dump, pg_restore, psql),
						// timed apart: the analyze time side by side with pgferry's analyze phase.
						script += fmt.Sprintf("\nTIMEFORMAT='%s %%R'\ntime %s -Z -j%s -q -d %s", analyzeMark, sq(filepath.Join(e.bin, "vacuumdb")), j, tgt)
					}
					return bash(script)
				}
				return bash(fmt.Sprintf("%s\n%s -Fc %s -d %s | %s -d %s", createDB(e, r), bin("pg_dump"), dumpFlags, src, bin("pg_restore"), tgt))
			}}
	}
	return []*tool{
		pgDump("fd", "pg_dump -Fd -j2 + pg_restore -j2", "", true),
		pgDump("fd-z0", "pg_dump -Fd -j2 -Z0 + pg_restore -j2", "-Z0", true),
		pgDump("fc", "pg_dump -Fc | pg_restore", "", false),
		pgDump("fc-z0", "pg_dump -Fc -Z0 | pg_restore", "-Z0", false),
		pgDump("fd-z0-analyze", "pg_dump -Fd -j2 -Z0 + pg_restore -j2 + vacuumdb -Z", "-Z0", true, true),
		fieldOnly(pgDump("fd-analyze", "pg_dump -Fd -j2 + pg_restore -j2 + vacuumdb -Z", "", true, true)),
		// PostgreSQL 18's pg_dump carries the planner statistics (pg_restore_relation_stats,
		// pg_restore_attribute_stats): restored last, timed apart, as the analyze step's counterpart.
		{id: "fd-stats", name: "pg_dump -Fd -j2 --statistics + pg_restore -j2", fieldOnly: true, minDumpMajor: 18,
			command: func(e *env, r *runCtx) *exec.Cmd {
				bin := func(p string) string { return sq(filepath.Join(e.dumpBin, p)) }
				src, tgt, d, j := sq(e.srcLink().DSN(r.ds)), sq(e.tgtLink().DSN(r.ds)), sq(filepath.Join(r.dir, "dump")), fmt.Sprint(e.o.jobs)
				return bash(fmt.Sprintf("%s\n%s -Fd -j%s --statistics -f %s -d %s\n%s -j%s --no-statistics -d %s %s\nTIMEFORMAT='%s %%R'\ntime %s --statistics-only -d %s %s",
					createDB(e, r), bin("pg_dump"), j, d, src, bin("pg_restore"), j, tgt, d, analyzeMark, bin("pg_restore"), tgt, d))
			}},
		{id: "pgcopydb", name: "pgcopydb clone 2/2",
			command: func(e *env, r *runCtx) *exec.Cmd {
				j := fmt.Sprint(e.o.jobs)
				cmd := bash(fmt.Sprintf("%s\nexec %s clone --source %s --target %s --table-jobs %s --index-jobs %s --dir %s", createDB(e, r),
					sq(e.pgcopydb), sq(e.srcLink().DSN(r.ds)), sq(e.tgtLink().DSN(r.ds)), j, j, sq(filepath.Join(r.dir, "pgcopydb"))))
				// pgcopydb runs pg_dump and pg_restore from PATH: the cluster's major.
				cmd.Env = append(os.Environ(), "PATH="+e.bin+":"+os.Getenv("PATH"))
				return cmd
			}},
		{id: "pgferry", name: "pgferry apply",
			prepare: func(ctx context.Context, e *env, r *runCtx) error {
				return writeConfig(e, r.dir, r.ds, "none")
			},
			command: func(e *env, r *runCtx) *exec.Cmd {
				return pgferryCmd(e, r.dir, "apply", "--auto-approve", "--jobs", fmt.Sprint(e.o.jobs))
			},
			after: pgferryAfter},
		pgferryCopyFormat("binary"), pgferryCopyFormat("text"),
		// The same apply with the -pgferry-b build: an A/B of two builds, alternating in one run.
		{id: "pgferry-b", name: "pgferry apply (build B)",
			prepare: func(ctx context.Context, e *env, r *runCtx) error {
				return writeConfig(e, r.dir, r.ds, "none")
			},
			command: func(e *env, r *runCtx) *exec.Cmd {
				return pgferryBin(e, r.tool, r.dir, "apply", "--auto-approve", "--jobs", fmt.Sprint(e.o.jobs))
			},
			after: pgferryAfter},
		{id: "floor", name: "floor: one COPY stream + PK", onlyFor: []string{"pgbench"}, floor: true,
			prepare: func(ctx context.Context, e *env, r *runCtx) error {
				// The table's definition, dumped untimed (pre-data holds no index).
				cmd := exec.Command(filepath.Join(e.bin, "pg_dump"), "--schema-only", "--section=pre-data", "-t", r.big.qualified(),
					"-f", filepath.Join(r.dir, "table.sql"), "-d", e.src.DSN(r.ds))
				_, err := timed(ctx, cmd, r.log+".prepare")
				return err
			},
			// The database and the empty table are created timed, as every tool creates its database.
			command: func(e *env, r *runCtx) *exec.Cmd {
				psql := sq(filepath.Join(e.bin, "psql")) + " -X -q -v ON_ERROR_STOP=1"
				t := r.big.qualified()
				s := fmt.Sprintf("%s\n%s -d %s -f %s\n", createDB(e, r), psql, sq(e.tgtLink().DSN(r.ds)), sq(filepath.Join(r.dir, "table.sql")))
				s += fmt.Sprintf("%s -d %s -c %s | %s -d %s -c %s", psql, sq(e.srcLink().DSN(r.ds)), sq("COPY "+t+" TO STDOUT"),
					psql, sq(e.tgtLink().DSN(r.ds)), sq("COPY "+t+" FROM STDIN"))
				if r.big.PKDef != "" {
					s += fmt.Sprintf("\n%s -d %s -c %s", psql, sq(e.tgtLink().DSN(r.ds)),
						sq(fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", t, pgx.Identifier{r.big.PKName}.Sanitize(), r.big.PKDef)))
				}
				return bash(s)
			}},
	}
}

func fieldOnly(t *tool) *tool {
	t.fieldOnly = true
	return t
}

// analyzeMark starts the line bash's time keyword writes to a run's log for its analyze step.
const analyzeMark = "bench-analyze-seconds"

// analyzeFromLog is the analyze step's wall time a run's log holds (0: none).
func analyzeFromLog(log string) time.Duration {
	b, err := os.ReadFile(log)
	if err != nil {
		return 0
	}
	var d time.Duration
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), analyzeMark+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				d += time.Duration(f * float64(time.Second))
			}
		}
	}
	return d
}

func writeConfig(e *env, dir, db, verify string) error {
	hcl := fmt.Sprintf(`# written by bench
source "src" {
  host     = %q
  port     = %d
  user     = %q
  password = env("PGFERRY_SOURCE_PASSWORD")
  sslmode  = "disable"
  type     = "on-premises"
  dbname   = "postgres"
}

target "tgt" {
  host     = %q
  port     = %d
  user     = %q
  password = env("PGFERRY_TARGET_PASSWORD")
  sslmode  = "disable"
}

migration "bench" {
  source    = source.src
  target    = target.tgt
  databases = [%q]
  options {
    jobs   = %d
    verify = %q
    roles  = false
  }
}
`, e.srcLink().Host, e.srcLink().Port, e.src.User, e.tgtLink().Host, e.tgtLink().Port, e.tgt.User, db, e.o.jobs, verify)
	return os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o600)
}

func pgferryCmd(e *env, dir string, args ...string) *exec.Cmd {
	return pgferryBin(e, nil, dir, args...)
}

// pgferryBin is pgferryCmd with the build tool t runs: -pgferry-b's for pgferry-b.
func pgferryBin(e *env, t *tool, dir string, args ...string) *exec.Cmd {
	bin := e.pgferry
	if t != nil && t.id == "pgferry-b" {
		bin = e.o.pgferryB
	}
	cmd := exec.Command(bin, append([]string{"--chdir", dir, "--no-color"}, args...)...)
	cmd.Env = append(os.Environ(), "PGFERRY_SOURCE_PASSWORD="+e.src.Password, "PGFERRY_TARGET_PASSWORD="+e.tgt.Password)
	return cmd
}

// pgferryAfter times pgferry's own verification of the run (reported apart
// from the copy time) and keeps apply's time-per-phase table.
func pgferryAfter(ctx context.Context, e *env, r *runCtx, res *runResult) error {
	res.Phases = phaseTable(r.log)
	// The analyze phase's wall time, as the run recorded it.
	var out bytes.Buffer
	cmd := pgferryBin(e, r.tool, r.dir, "history", "--json")
	cmd.Stdout = &out
	if _, err := timed(ctx, cmd, r.log+".history"); err != nil {
		return fmt.Errorf("pgferry history --json after %s run %d: %w", r.ds, r.run, err)
	}
	run, err := latestRun(out.Bytes())
	if err != nil {
		return err
	}
	res.Analyze = time.Duration(run.Phases["analyze"] * float64(time.Second))
	if e.o.countVerify {
		m, err := timed(ctx, pgferryBin(e, r.tool, r.dir, "verify", "--mode", "count"), r.log+".verify-count")
		if err != nil {
			return fmt.Errorf("pgferry verify --mode count after %s run %d: %w", r.ds, r.run, err)
		}
		res.VerifyCount = m.Wall
	}
	if e.o.checksum {
		m, err := timed(ctx, pgferryBin(e, r.tool, r.dir, "verify", "--mode", "checksum"), r.log+".verify-checksum")
		if err != nil {
			return fmt.Errorf("pgferry verify --mode checksum after %s run %d: %w", r.ds, r.run, err)
		}
		res.VerifyChecksum = m.Wall
	}
	return nil
}

// phaseTable extracts apply's "Time per phase" block from its output.
func phaseTable(log string) string {
	b, err := os.ReadFile(log)
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.Index(s, "Time per phase")
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return strings.TrimSpace(s)
}

// expectation is what every run must leave in the target database.
type expectation struct {
	counts                      map[string]int64
	indexes, fks, views, tables int
}

const userRels = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'`

func inventory(ctx context.Context, c *pgtest.Cluster, db string, only []string) (*expectation, error) {
	conn, err := c.Connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	x := &expectation{counts: map[string]int64{}}
	tables := only
	if tables == nil {
		rows, err := conn.Query(ctx, "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "+userRels+" AND c.relkind = 'r' ORDER BY 1")
		if err != nil {
			return nil, err
		}
		if tables, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, err
		}
		err = conn.QueryRow(ctx, `SELECT
  (SELECT count(*) `+userRels+` AND c.relkind IN ('i', 'I')),
  (SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
     WHERE k.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')),
  (SELECT count(*) `+userRels+` AND c.relkind = 'v')`).Scan(&x.indexes, &x.fks, &x.views)
		if err != nil {
			return nil, err
		}
	}
	x.tables = len(tables)
	for len(tables) > 0 {
		n := min(len(tables), 100)
		var q []string
		for _, t := range tables[:n] {
			q = append(q, fmt.Sprintf("SELECT %s::text, count(*) FROM %s", quoteLit(t), t))
		}
		rows, err := conn.Query(ctx, strings.Join(q, " UNION ALL "))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var t string
			var cnt int64
			if err := rows.Scan(&t, &cnt); err != nil {
				return nil, err
			}
			x.counts[t] = cnt
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		tables = tables[n:]
	}
	return x, nil
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// check compares the target with the source's expectation.
func (want *expectation) check(got *expectation, floor bool) error {
	var diffs []string
	var names []string
	for t := range want.counts {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		g, ok := got.counts[t]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("table %s missing on the target", t))
		case g != want.counts[t]:
			diffs = append(diffs, fmt.Sprintf("table %s: %d rows on the target, %d on the source", t, g, want.counts[t]))
		}
	}
	if !floor {
		if got.tables != want.tables {
			diffs = append(diffs, fmt.Sprintf("%d tables on the target, %d on the source", got.tables, want.tables))
		}
		if got.indexes != want.indexes {
			diffs = append(diffs, fmt.Sprintf("%d indexes on the target, %d on the source", got.indexes, want.indexes))
		}
		if got.fks != want.fks {
			diffs = append(diffs, fmt.Sprintf("%d foreign keys on the target, %d on the source", got.fks, want.fks))
		}
		if got.views != want.views {
			diffs = append(diffs, fmt.Sprintf("%d views on the target, %d on the source", got.views, want.views))
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("… and %d more", len(diffs)-10))
		}
		return fmt.Errorf("the target differs from the source:\n  %s", strings.Join(diffs, "\n  "))
	}
	return nil
}

// runResult is one run of one tool.
type runResult struct {
	Measurement
	VerifyCount, VerifyChecksum time.Duration
	Phases                      string
	// Analyze is the wall time of the run's statistics step: pgferry's analyze phase, vacuumdb -Z,
	// or pg_restore --statistics-only (0: none).
	Analyze time.Duration
	// StatsRows is the number of pg_stats rows of user tables on the target after the run
	// (when HasStats: the PG18 mode counts them).
	StatsRows int64
	HasStats  bool
}

// toolResult is every run of one tool on one dataset.
type toolResult struct {
	ID, Name string
	Runs     []runResult
}

// DatasetResult is one dataset's results.
type DatasetResult struct {
	Name, Desc string
	Size       int64
	Rows       int64
	Tables     int
	Indexes    int
	FKs, Views int
	BigTable   bigTable
	Tools      []*toolResult
}

func describeDataset(e *env, ds string) string {
	switch ds {
	case "pgbench":
		return fmt.Sprintf("pgbench -i -s %d --foreign-keys", e.o.scale)
	case "many":
		return fmt.Sprintf("many tables (factor %g)", e.o.manyFactor)
	}
	if n, ok := tinyCount(ds); ok {
		return views3(n) + " tiny tables"
	}
	return ds
}

func benchDataset(ctx context.Context, e *env, ds string) (*DatasetResult, error) {
	want, err := inventory(ctx, e.src, ds, nil)
	if err != nil {
		return nil, fmt.Errorf("counting the source's rows of %s: %w", ds, err)
	}
	res := &DatasetResult{Name: ds, Desc: describeDataset(e, ds), Tables: want.tables, Indexes: want.indexes, FKs: want.fks, Views: want.views}
	for _, n := range want.counts {
		res.Rows += n
	}
	if err := withConn(ctx, e.src, ds, func(conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&res.Size); err != nil {
			return err
		}
		b := &res.BigTable
		err := conn.QueryRow(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, c.relname, coalesce(pg_get_constraintdef(k.oid), ''), coalesce(k.conname, '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
ORDER BY pg_relation_size(c.oid) DESC LIMIT 1`).Scan(&b.Key, &b.Schema, &b.Name, &b.PKDef, &b.PKName)
		return err
	}); err != nil {
		return nil, err
	}
	res.BigTable.Rows = want.counts[res.BigTable.Key]
	logf("dataset %s: %s, %d tables, %d rows, %d indexes, %d foreign keys, %d views; largest table %s",
		ds, bytesStr(res.Size), res.Tables, res.Rows, res.Indexes, res.FKs, res.Views, res.BigTable.qualified())

	ts := selectTools(e, ds)
	for _, t := range ts {
		res.Tools = append(res.Tools, &toolResult{ID: t.id, Name: t.name})
	}
	floorWant := &expectation{counts: map[string]int64{res.BigTable.Key: res.BigTable.Rows}, tables: 1}

	for run := 0; run < e.o.runs; run++ {
		// Alternate, and rotate the order each round so no tool always follows the same one.
		for i := range ts {
			k := (i + run) % len(ts)
			t := ts[k]
			r := &runCtx{ds: ds, run: run + 1, tool: t, big: res.BigTable, size: res.Size,
				dir: filepath.Join(e.work, fmt.Sprintf("%s%s-%s-%d", e.tag, ds, t.id, run+1)),
				log: filepath.Join(e.logs, fmt.Sprintf("%s%s-%s-%d.log", e.tag, ds, t.id, run+1))}
			rr, err := runOnce(ctx, e, r, want, floorWant)
			if err != nil {
				return nil, fmt.Errorf("%s on %s, run %d: %w", t.name, ds, run+1, err)
			}
			res.Tools[k].Runs = append(res.Tools[k].Runs, rr)
			extra := ""
			if rr.VerifyChecksum > 0 || rr.VerifyCount > 0 {
				extra = fmt.Sprintf(", verify count %s, checksum %s", secs(rr.VerifyCount), secs(rr.VerifyChecksum))
			}
			logf("%-8s run %d/%d %-38s %7s  peak RSS %s (tree PSS %s)%s", ds, run+1, e.o.runs, t.name, secs(rr.Wall),
				bytesStr(rr.MaxRSS), bytesStr(rr.TreeRSS), extra)
		}
	}
	return res, nil
}

// selectTools is the tools that run on dataset ds: -tools ("all": all but the field-only ones),
// those the dataset and the peers' pg_dump allow, pgcopydb when installed.
func selectTools(e *env, ds string) []*tool {
	selected := map[string]bool{}
	all := e.o.tools == "all"
	for _, id := range splitList(e.o.tools) {
		selected[id] = true
	}
	var ts []*tool
	for _, t := range tools() {
		if !all && !selected[t.id] || all && (t.fieldOnly || strings.HasPrefix(t.id, "pgferry-")) { // pgferry-binary, -text: asked for by name
			continue
		}
		if t.minDumpMajor > e.dumpMajor {
			logf("%s left out: it needs pg_dump %d or newer (the peers' pg_dump is %d)", t.name, t.minDumpMajor, e.dumpMajor)
			continue
		}
		if t.onlyFor != nil && !contains(t.onlyFor, ds) {
			continue
		}
		if t.id == "pgcopydb" && e.pgcopydb == "" {
			continue
		}
		if t.id == "pgferry-b" && e.o.pgferryB == "" {
			logf("pgferry-b left out: no -pgferry-b binary")
			continue
		}
		ts = append(ts, t)
	}
	return ts
}

func runOnce(ctx context.Context, e *env, r *runCtx, want, floorWant *expectation) (runResult, error) {
	var rr runResult
	e.discard(r.dir)
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return rr, err
	}
	// A fresh target: no database, and no checkpoint debt from the previous run on either server.
	kept, err := e.retire(ctx, r.ds, r.size)
	if err != nil {
		return rr, err
	}
	if err := e.tgt.Exec(ctx, "postgres", "CHECKPOINT"); err != nil {
		return rr, err
	}
	if err := e.src.Exec(ctx, "postgres", "CHECKPOINT"); err != nil {
		return rr, err
	}
	// The kept database is written now, and the earlier runs' dumps closed: out of the page cache.
	if kept != "" {
		evict(kept)
	}
	evict(e.work)
	if r.tool.prepare != nil {
		if err := r.tool.prepare(ctx, e, r); err != nil {
			return rr, fmt.Errorf("preparing: %w", err)
		}
	}
	m, err := timed(ctx, r.tool.command(e, r), r.log)
	if err != nil {
		return rr, err
	}
	rr.Measurement = m
	rr.Analyze = analyzeFromLog(r.log)
	if e.statsCheck {
		if rr.StatsRows, err = statsRows(ctx, e.tgt, r.ds); err != nil {
			return rr, fmt.Errorf("counting the target's pg_stats: %w", err)
		}
		rr.HasStats = true
	}
	if r.tool.after != nil {
		if err := r.tool.after(ctx, e, r, &rr); err != nil {
			return rr, err
		}
	}
	var only []string
	w := want
	if r.tool.floor {
		only, w = []string{r.big.Key}, floorWant
	}
	got, err := inventory(ctx, e.tgt, r.ds, only)
	if err != nil {
		return rr, fmt.Errorf("counting the target's rows: %w", err)
	}
	if err := w.check(got, r.tool.floor); err != nil {
		return rr, fmt.Errorf("WRONG RESULT: %w\n(log: %s)", err, r.log)
	}
	return rr, nil
}

// statsRows counts the planner statistics of user tables' columns in database db (pg_stats rows).
func statsRows(ctx context.Context, c *pgtest.Cluster, db string) (int64, error) {
	var n int64
	err := withConn(ctx, c, db, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT count(*) FROM pg_stats WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").Scan(&n)
	})
	return n, err
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// PlanResult is the timing of `pgferry plan` over many tables.
type PlanResult struct {
	Tables int
	Runs   []Measurement
	Output string // the plan's summary line
}

func benchPlan(ctx context.Context, e *env) (*PlanResult, error) {
	pr := &PlanResult{Tables: e.o.planTables}
	if err := e.tgt.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS tables10k WITH (FORCE)"); err != nil {
		return nil, err
	}
	for run := 1; run <= e.o.planRuns; run++ {
		dir := filepath.Join(e.work, fmt.Sprintf("plan-%d", run))
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeConfig(e, dir, "tables10k", "none"); err != nil {
			return nil, err
		}
		log := filepath.Join(e.logs, fmt.Sprintf("plan-%d.log", run))
		m, err := timed(ctx, pgferryCmd(e, dir, "plan"), log)
		if err != nil {
			return nil, fmt.Errorf("pgferry plan over %d tables: %w", pr.Tables, err)
		}
		b, _ := os.ReadFile(log)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Plan: ") {
				pr.Output = l
			}
		}
		if !strings.Contains(pr.Output, fmt.Sprintf("%d tables", pr.Tables)) && !strings.Contains(pr.Output, views3(pr.Tables)+" tables") {
			return nil, fmt.Errorf("pgferry plan over %d tables: unexpected summary %q (log: %s)", pr.Tables, pr.Output, log)
		}
		pr.Runs = append(pr.Runs, m)
		logf("pgferry plan over %d tables, run %d/%d: %s, peak RSS %s", pr.Tables, run, e.o.planRuns, secs(m.Wall), bytesStr(m.MaxRSS))
	}
	return pr, nil
}

// views3 formats n with thousands separators, as pgferry's summary may.
func views3(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// goBench runs the plan package's Go benchmarks and returns their result lines.
func goBench(ctx context.Context) string {
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	logf("go test -run '^$' -bench . -benchmem ./plan")
	out, err := exec.CommandContext(ctx, goBin, "test", "-run", "^$", "-bench", ".", "-benchmem", "./plan").CombinedOutput()
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if err != nil {
		return fmt.Sprintf("go test -bench failed: %v\n%s", err, clip(string(out), 2000))
	}
	return strings.Join(lines, "\n")
}

func withConn(ctx context.Context, c *pgtest.Cluster, db string, f func(*pgx.Conn) error) error {
	conn, err := c.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return f(conn)
}
