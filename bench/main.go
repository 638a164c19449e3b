// Command bench measures how long pgferry takes to migrate a database compared
// with pg_dump/pg_restore, pgcopydb and a single COPY stream, on two throwaway
// PostgreSQL clusters with full durability (fsync, full_page_writes,
// synchronous_commit on). `make bench` runs it; see docs/benchmarks.md.
//
//	go run ./bench [-scale 50] [-runs 3] [-out docs/benchmarks.md] ...
//
// It creates a source and a target cluster under -dir, generates the
// datasets on the source (pgbench -i --foreign-keys and a many-tables set),
// then, for each dataset, runs every tool -runs times in alternation, each on
// a fresh target database, checks the row count of every table after each
// run, and reports median wall time and peak memory. It also times `pgferry
// plan` over a source database of 10,000 tables, measures how close plan's
// forecast comes to apply (bench/forecast.go), and moves datasets through a
// slow or capped link or to a PostgreSQL 18 target (-field, bench/field.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/internal/pgtest"
)

type options struct {
	dir         string
	scale       int
	runs        int
	jobs        int
	manyFactor  float64
	planTables  int
	planRuns    int
	datasets    string
	tools       string
	pgferry     string
	pgferryB    string // a second build, run as tool pgferry-b (an A/B in one run)
	out         string
	reuse       bool
	keep        bool
	major       int
	goBench     bool
	conf        string
	checksum    bool
	countVerify bool
	// Field modes (bench/field.go).
	field       string
	fieldTools  string
	rtt         time.Duration
	bandwidthMB float64
	// The forecast-accuracy bench (bench/forecast.go).
	forecast           bool
	forecastScale      int
	forecastManyFactor float64
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "pgferry-bench"), "working directory: clusters, dumps, logs")
	flag.IntVar(&o.scale, "scale", 50, "pgbench scale factor of the pgbench dataset")
	flag.IntVar(&o.runs, "runs", 3, "runs of each tool per dataset (the median is reported)")
	flag.IntVar(&o.jobs, "jobs", 2, "parallel jobs given to every tool")
	flag.Float64Var(&o.manyFactor, "many-factor", 1, "row-count factor of the many-tables dataset (1 ≈ 164 MB)")
	flag.IntVar(&o.planTables, "plan-tables", 10000, "tables in the source database `pgferry plan` is timed against (0: skip)")
	flag.IntVar(&o.planRuns, "plan-runs", 3, "runs of `pgferry plan`")
	flag.StringVar(&o.datasets, "datasets", "pgbench,many", "datasets to run, comma-separated: pgbench, many")
	flag.StringVar(&o.tools, "tools", "all", "tools to run, comma-separated ("+strings.Join(toolIDs(), ", ")+") or all")
	flag.StringVar(&o.pgferry, "pgferry", "bin/pgferry", "the pgferry binary")
	flag.StringVar(&o.pgferryB, "pgferry-b", "", "a second pgferry binary, run as tool pgferry-b (name it in -tools or -field-tools) beside pgferry, alternating: an A/B of two builds in one run; not a peer")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "Markdown report to write (empty: none)")
	flag.BoolVar(&o.reuse, "reuse", false, "reuse the source cluster in -dir when it holds the same datasets (skips generation)")
	flag.BoolVar(&o.keep, "keep", false, "leave the clusters running at the end (implied by -reuse)")
	flag.IntVar(&o.major, "major", 15, "PostgreSQL major version of both clusters")
	flag.BoolVar(&o.goBench, "gobench", true, "also run the plan package's Go benchmarks (go test -bench)")
	flag.StringVar(&o.conf, "conf", "", "extra postgresql.conf settings for both clusters, key=value,key=value")
	flag.BoolVar(&o.checksum, "checksum", true, "time `pgferry verify --mode checksum` after each pgferry run (also proves the content)")
	flag.BoolVar(&o.countVerify, "count-verify", true, "time `pgferry verify --mode count` after each pgferry run")
	flag.StringVar(&o.field, "field", "", "field cases, comma-separated DATASET@MODE (modes: "+strings.Join(fieldModes, ", ")+
		"; datasets: pgbench, many, tinyN), each through a Toxiproxy proxy on loopback; \"issue15\": "+defaultField)
	flag.StringVar(&o.fieldTools, "field-tools", "pgferry,fd,fc,pgcopydb", "tools of the field cases, comma-separated")
	flag.DurationVar(&o.rtt, "rtt", 20*time.Millisecond, "round trip added by the latency modes (half each way)")
	flag.Float64Var(&o.bandwidthMB, "bandwidth", 20, "cap of the bandwidth mode, MB/s (10^6 bytes) each way")
	flag.BoolVar(&o.forecast, "forecast", true, "run the forecast-accuracy bench (issue 14): plan's forecast against apply, cold, after a rehearsal, after growth")
	flag.IntVar(&o.forecastScale, "forecast-scale", 20, "pgbench scale of the forecast bench's dataset")
	flag.Float64Var(&o.forecastManyFactor, "forecast-many-factor", 0.1, "row-count factor of the forecast bench's 200 small tables (the many-tables set)")
	flag.Parse()
	if o.field == "issue15" {
		o.field = defaultField
	}
	if _, err := parseField(o.field); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	for _, ds := range splitList(o.datasets) {
		if err := checkDataset(ds); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -datasets:", err)
			os.Exit(2)
		}
	}
	if o.reuse {
		o.keep = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAILED:", redact(err.Error()))
		os.Exit(1)
	}
}

// env is what every step needs.
type env struct {
	o        options
	src, tgt *pgtest.Cluster
	bin      string // PostgreSQL client/server programs
	pgferry  string
	logs     string
	work     string
	machine  Machine
	pgcopydb string // path, or "" when not available
	// trash holds what the bench would delete (old clusters, working directories, dumps): it is
	// removed only at the end, see retire.
	trash string
	// kept are the target databases of earlier runs, renamed instead of dropped (see retire).
	kept    []string
	srcKept []string // the same on the source (the forecast bench's grown copies)
	dropped bool     // retire had to drop (disk): reported once
	// srcVia and tgtVia are the servers as the tools reach them in a field mode (through a
	// proxy; nil: directly), tag prefixes the runs' log and work names.
	srcVia, tgtVia *pgtest.Cluster
	tag            string
	// conf is the clusters' configuration (a field mode may start another target with it).
	conf []pgtest.Option
	// dumpBin holds the pg_dump and pg_restore the peers run, of major dumpMajor: bin's, or the
	// target's newer major in the PG18 mode. statsCheck counts pg_stats on the target after each run.
	dumpBin    string
	dumpMajor  int
	statsCheck bool
}

func run(ctx context.Context, o options) error {
	e, err := newEnv(o)
	if err != nil {
		return err
	}
	defer os.RemoveAll(e.trash)
	defer func() {
		// The runs' dumps can be large: they go with the trash; logs and states stay.
		dumps, _ := filepath.Glob(filepath.Join(e.work, "*", "dump"))
		more, _ := filepath.Glob(filepath.Join(e.work, "*", "pgcopydb"))
		for _, d := range append(dumps, more...) {
			e.discard(d)
		}
	}()
	if err := e.prepare(); err != nil {
		return err
	}
	conf, confDesc, err := clusterConf(o.conf)
	if err != nil {
		return err
	}
	e.conf = conf
	reused, err := e.startClusters(ctx, conf)
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			e.dropKept(context.WithoutCancel(ctx))
			logf("clusters left running: %s, %s (stop: go run ./internal/pgtest/cmd/pgcluster stop --dir DIR --remove)",
				filepath.Join(o.dir, "source"), filepath.Join(o.dir, "target"))
			return
		}
		e.tgt.Destroy()
		e.src.Destroy()
	}()
	if !reused {
		marker := filepath.Join(o.dir, "source.datasets")
		os.Remove(marker)
		if err := generate(ctx, e); err != nil {
			return err
		}
		if err := os.WriteFile(marker, []byte(datasetMarker(o)), 0o644); err != nil {
			return err
		}
	}
	e.machine = describeMachine(ctx, e)
	e.machine.LoadStart = loadAvg()
	e.machine.Conf = append(e.machine.Conf, confDesc...)
	rep, err := measure(ctx, e)
	if rep != nil {
		// A failed forecast bench still reports what the other parts measured, and why it failed.
		if werr := writeReport(o.out, rep); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// newEnv checks the pgferry binary and makes the bench's directory.
func newEnv(o options) (*env, error) {
	var err error
	if o.pgferry, err = filepath.Abs(o.pgferry); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.pgferry); err != nil {
		return nil, fmt.Errorf("pgferry binary: %w (run make build)", err)
	}
	if o.pgferryB != "" {
		if o.pgferryB, err = filepath.Abs(o.pgferryB); err != nil {
			return nil, err
		}
		if _, err := os.Stat(o.pgferryB); err != nil {
			return nil, fmt.Errorf("-pgferry-b: %w", err)
		}
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, err
	}
	// The servers run as the postgres OS user: it must reach the clusters.
	os.Chmod(o.dir, 0o755)
	return &env{o: o, pgferry: o.pgferry, logs: filepath.Join(o.dir, "logs"), work: filepath.Join(o.dir, "work"),
		trash: filepath.Join(o.dir, "trash")}, nil
}

// prepare empties the logs and work directories and finds the programs.
func (e *env) prepare() error {
	os.RemoveAll(e.logs)
	e.discard(e.work)
	for _, d := range []string{e.logs, e.work} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return err
		}
	}
	var err error
	if e.bin, err = pgtest.BinDir(e.o.major); err != nil {
		return err
	}
	e.dumpBin, e.dumpMajor = e.bin, e.o.major
	if p, err := exec.LookPath("pgcopydb"); err == nil {
		e.pgcopydb = p
	} else {
		logf("pgcopydb not found on PATH: its column is skipped (scripts/bench.sh installs it from Debian)")
	}
	return nil
}

// clusterConf is the configuration of both clusters: full durability and PostgreSQL's defaults,
// then -conf's key=value pairs (also returned as given, for the report).
func clusterConf(extra string) ([]pgtest.Option, []string, error) {
	conf := []pgtest.Option{
		// Full durability, as a production server runs.
		pgtest.WithConf("fsync", "on"),
		pgtest.WithConf("full_page_writes", "on"),
		pgtest.WithConf("synchronous_commit", "on"),
		// PostgreSQL's defaults rather than the test harness's 64MB.
		pgtest.WithConf("shared_buffers", "128MB"),
		pgtest.WithConf("max_connections", "100"),
		// pg_dump and pg_restore of the 10,000-table database lock every
		// relation in one transaction (pgferry plan checks this).
		pgtest.WithConf("max_locks_per_transaction", "512"),
	}
	var confDesc []string
	if extra != "" {
		for _, kv := range strings.Split(extra, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, nil, fmt.Errorf("-conf %q is not key=value", kv)
			}
			conf = append(conf, pgtest.WithConf(strings.TrimSpace(k), strings.TrimSpace(v)))
			confDesc = append(confDesc, kv)
		}
	}
	return conf, confDesc, nil
}

// startClusters starts the source, reused when asked and it holds what the bench would generate
// (reused true), else created afresh, and a new target. The caller stops them.
func (e *env) startClusters(ctx context.Context, conf []pgtest.Option) (reused bool, err error) {
	o := e.o
	srcDir, tgtDir := filepath.Join(o.dir, "source"), filepath.Join(o.dir, "target")
	marker := datasetMarker(o)
	if o.reuse {
		if b, err := os.ReadFile(filepath.Join(o.dir, "source.datasets")); err == nil && string(b) == marker {
			if c, err := pgtest.Load(srcDir); err == nil {
				if err := c.Start(ctx); err == nil {
					e.src, reused = c, true
					logf("reusing the source cluster in %s (%s)", srcDir, strings.TrimSpace(marker))
				}
			}
		}
	}
	if e.src == nil {
		if c, err := pgtest.Load(srcDir); err == nil {
			c.Stop()
		}
		e.discard(srcDir)
		logf("creating the source cluster (PostgreSQL %d) in %s", o.major, srcDir)
		if e.src, err = pgtest.New(srcDir, o.major, conf...); err != nil {
			return false, err
		}
	}
	if c, err := pgtest.Load(tgtDir); err == nil {
		c.Stop()
	}
	e.discard(tgtDir)
	evict(e.trash)
	logf("creating the target cluster (PostgreSQL %d) in %s", o.major, tgtDir)
	if e.tgt, err = pgtest.New(tgtDir, o.major, conf...); err != nil {
		return false, err
	}
	secrets = append(secrets, e.src.Password, e.tgt.Password)
	return reused, nil
}

// measure times plan over many tables, then every tool on every dataset, printing each
// dataset's table as it finishes.
func measure(ctx context.Context, e *env) (*Report, error) {
	o := e.o
	rep := &Report{Machine: e.machine, Options: o}
	if o.planTables > 0 {
		pr, err := benchPlan(ctx, e)
		if err != nil {
			return nil, err
		}
		rep.Plan = pr
	}
	for _, ds := range splitList(o.datasets) {
		r, err := benchDataset(ctx, e, ds)
		if err != nil {
			return nil, err
		}
		rep.Datasets = append(rep.Datasets, r)
		fmt.Println()
		fmt.Print(r.Text())
	}
	var ferr error
	if o.forecast {
		rep.Forecast, ferr = benchForecast(ctx, e)
	}
	if o.field != "" && ferr == nil {
		fr, err := benchField(ctx, e)
		if err != nil {
			return nil, err
		}
		rep.Field = fr
	}
	rep.Machine.LoadEnd = loadAvg()
	if o.goBench {
		rep.GoBench = goBench(ctx)
	}
	fmt.Println()
	fmt.Print(rep.Text())
	return rep, ferr
}

// writeReport writes the Markdown report to out ("": none), keeping a hand-written "## Notes"
// section of the previous file.
func writeReport(out string, rep *Report) error {
	if out == "" {
		return nil
	}
	old, _ := os.ReadFile(out)
	md := mergeReport(string(old), rep)
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}

// Deleting many files makes creating files slow for minutes on ext4 without a journal (the
// filesystem skips recently deleted inodes one by one: PostgreSQL spent a quarter of its time in
// inode allocation after each DROP DATABASE). So the bench deletes nothing while it measures: a
// run's database is renamed when the next run of the dataset starts, directories go to trash, and
// all is removed at the end. Only when the disk runs short is the database dropped instead. What
// is kept is dropped from the page cache (evict), so that it does not fill the memory either.

// discard moves path into the trash directory (removed at the end of the bench).
func (e *env) discard(path string) {
	if _, err := os.Lstat(path); err != nil {
		return
	}
	os.MkdirAll(e.trash, 0o755)
	if err := os.Rename(path, filepath.Join(e.trash, fmt.Sprintf("%s-%d", filepath.Base(path), time.Now().UnixNano()))); err != nil {
		os.RemoveAll(path)
	}
}

// retire makes room on the target for a run on database ds: an earlier run's database is renamed
// and kept while the disk has room for three times size more, and dropped otherwise. It returns the
// kept database's directory, for evict once a CHECKPOINT has written it ("" when none).
func (e *env) retire(ctx context.Context, ds string, size int64) (string, error) {
	rows, err := e.tgt.Query(ctx, "postgres", fmt.Sprintf("SELECT oid FROM pg_database WHERE datname = '%s'", strings.ReplaceAll(ds, "'", "''")))
	if err != nil || len(rows) == 0 {
		return "", err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(e.o.dir, &st); err == nil && int64(st.Bavail)*st.Bsize > 3*size+(5<<30) {
		old := fmt.Sprintf("%s_run%d", ds, len(e.kept)+1)
		// No connections: autovacuum leaves it alone (it would analyze it during later runs).
		if err := e.tgt.Exec(ctx, "postgres", fmt.Sprintf("ALTER DATABASE %[1]s RENAME TO %[2]s; ALTER DATABASE %[2]s ALLOW_CONNECTIONS false",
			pgx.Identifier{ds}.Sanitize(), pgx.Identifier{old}.Sanitize())); err != nil {
			return "", err
		}
		e.kept = append(e.kept, old)
		return filepath.Join(e.tgt.DataDir(), "base", rows[0][0]), nil
	}
	if !e.dropped {
		logf("disk short: the databases of earlier runs are dropped between runs from now on (file creation may be slower after each)")
		e.dropped = true
	}
	return "", e.tgt.Exec(ctx, "postgres", fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", pgx.Identifier{ds}.Sanitize()))
}

// dropKept drops the databases retire kept.
func (e *env) dropKept(ctx context.Context) {
	for _, db := range e.kept {
		e.tgt.Exec(ctx, "postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{db}.Sanitize()))
	}
	for _, db := range e.srcKept {
		e.src.Exec(ctx, "postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{db}.Sanitize()))
	}
	e.kept, e.srcKept = nil, nil
}

func datasetMarker(o options) string {
	f := ""
	if o.forecast {
		f = fmt.Sprintf(" forecast=%d,%g", o.forecastScale, o.forecastManyFactor)
	}
	return fmt.Sprintf("v3 major=%d datasets=%s scale=%d many-factor=%g plan-tables=%d conf=%s%s\n",
		o.major, strings.Join(allDatasets(o), ","), o.scale, o.manyFactor, o.planTables, o.conf, f)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), redact(fmt.Sprintf(format, args...)))
}

// generate creates the datasets on the source.
func generate(ctx context.Context, e *env) error {
	for _, ds := range allDatasets(e.o) {
		start := time.Now()
		switch ds {
		case "pgbench":
			logf("generating pgbench -i -s %d --foreign-keys", e.o.scale)
			if err := e.src.Exec(ctx, "postgres", "CREATE DATABASE pgbench"); err != nil {
				return err
			}
			if err := pgbenchInit(ctx, e, "pgbench", e.o.scale, "generate-pgbench.log"); err != nil {
				return err
			}
		case "many":
			logf("generating the many-tables dataset (factor %g)", e.o.manyFactor)
			if err := e.src.Exec(ctx, "postgres", "CREATE DATABASE many"); err != nil {
				return err
			}
			for _, stmt := range manySQL(e.o.manyFactor) {
				if err := e.src.Exec(ctx, "many", stmt); err != nil {
					return fmt.Errorf("many-tables dataset: %w\n%s", err, clip(stmt, 400))
				}
			}
			if err := e.src.Exec(ctx, "many", "VACUUM ANALYZE"); err != nil {
				return err
			}
		default:
			n, ok := tinyCount(ds)
			if !ok {
				return checkDataset(ds)
			}
			logf("generating %d tiny tables in database %s", n, ds)
			if err := e.src.Exec(ctx, "postgres", "CREATE DATABASE "+ds); err != nil {
				return err
			}
			for _, b := range tables10kSQL(n) {
				if err := e.src.Exec(ctx, ds, b); err != nil {
					return err
				}
			}
			if err := e.src.Exec(ctx, ds, "VACUUM ANALYZE"); err != nil {
				return err
			}
		}
		size, _ := e.src.Query(ctx, ds, "SELECT pg_size_pretty(pg_database_size(current_database()))")
		logf("dataset %s: %s in %s", ds, size[0][0], time.Since(start).Round(time.Second))
	}
	if e.o.forecast {
		start := time.Now()
		if err := generateForecast(ctx, e); err != nil {
			return err
		}
		logf("forecast dataset generated in %s", time.Since(start).Round(time.Second))
	}
	if e.o.planTables > 0 {
		logf("creating %d tables in database tables10k", e.o.planTables)
		start := time.Now()
		if err := e.src.Exec(ctx, "postgres", "CREATE DATABASE tables10k"); err != nil {
			return err
		}
		for _, b := range tables10kSQL(e.o.planTables) {
			if err := e.src.Exec(ctx, "tables10k", b); err != nil {
				return err
			}
		}
		if err := e.src.Exec(ctx, "tables10k", "ANALYZE"); err != nil {
			return err
		}
		logf("tables10k created in %s", time.Since(start).Round(time.Second))
	}
	return e.src.Exec(ctx, "postgres", "CHECKPOINT")
}

// pgbenchInit runs pgbench -i -s scale --foreign-keys in database db of the source.
func pgbenchInit(ctx context.Context, e *env, db string, scale int, log string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, "pgbench"), "-i", "-q", "-s", fmt.Sprint(scale), "--foreign-keys", db)
	cmd.Env = append(os.Environ(), pgEnv(e.src)...)
	_, err := timed(ctx, cmd, filepath.Join(e.logs, log))
	return err
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// pgEnv is libpq's environment for a cluster.
func pgEnv(c *pgtest.Cluster) []string {
	return []string{"PGHOST=" + c.Host, fmt.Sprintf("PGPORT=%d", c.Port), "PGUSER=" + c.User, "PGPASSWORD=" + c.Password, "PGSSLMODE=disable"}
}
