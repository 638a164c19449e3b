package pgtest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/rogpeppe/go-internal/testscript"
)

// registryKey finds a script's clusters in testscript.Env.Values.
type registryKey struct{}

// registry holds the clusters one script started, by NAME.
type registry struct {
	mu       sync.Mutex
	clusters map[string]*Cluster
}

// testKey holds the script's testscript.T, for pgstart to skip the script under -short.
type testKey struct{}

// Setup prepares a script for the commands of Commands; chain it into
// testscript.Params.Setup. It also makes sure every cluster the script
// started is stopped and removed when the script ends, however it ends.
// pgferry run by the script finds the client tools of ClientDirs through
// PGFERRY_PG_BIN_PATH, and so picks, as for a user who has them, the newest
// pg_dump from the source's major up to the target's.
func Setup(env *testscript.Env) error {
	env.Setenv(pgBinPathEnv, ClientBinPath())
	reg := &registry{clusters: map[string]*Cluster{}}
	env.Values[registryKey{}] = reg
	env.Values[testKey{}] = env.T()
	env.Defer(func() {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		for name, c := range reg.clusters {
			c.Destroy()
			delete(reg.clusters, name)
		}
	})
	return nil
}

// Commands returns the testscript commands that drive clusters:
//
//	pgstart NAME MAJOR [key=value...]     start a cluster; sets NAME_HOST, NAME_PORT, NAME_USER,
//	                                      NAME_PASSWORD, NAME_DSN (database postgres), NAME_DIR
//	pgstop NAME [immediate]               stop it (fast, or as a crash would)
//	pgrestart NAME                        stop (fast) and start again on the same port
//	sql [-db DB] NAME QUERY...            run QUERY (one or more statements) in DB (default postgres);
//	                                      rows go to stdout, values tab-separated, NULL as NULL;
//	                                      with !, the error goes to stderr
//	sqlfile [-db DB] NAME FILE            the same with the contents of FILE
//	fingerprint NAME DB                   print Fingerprint of DB
//	fingerprint NAME DB NAME2 DB2         fail with a diff unless the two fingerprints are equal
//	schemacmp NAME DB NAME2 DB2           fail with a diff unless the two SchemaDumps are equal
//	rolescmp [-except r1,r2] NAME NAME2   fail with a diff unless the two Roles texts, less the
//	                                      named roles, are equal
//	waitfor NAME DB QUERY EXPECTED [TIMEOUT]  poll QUERY every 50ms until its first value is
//	                                      EXPECTED (errors meanwhile are retried); TIMEOUT 30s
//	nosecret PATH...                      fail if any file under the PATHs (files or directories;
//	                                      stdout and stderr: the last command's output) holds the
//	                                      password of any cluster the script started
//
// A negated comparison (! fingerprint, ! schemacmp, ! rolescmp, ! waitfor)
// expects a difference. Setup must be part of the script's Params.Setup.
func Commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"pgstart":     cmdPgstart,
		"pgstop":      cmdPgstop,
		"pgrestart":   cmdPgrestart,
		"sql":         cmdSQL,
		"sqlfile":     cmdSQLFile,
		"fingerprint": cmdFingerprint,
		"schemacmp":   cmdSchemacmp,
		"rolescmp":    cmdRolescmp,
		"waitfor":     cmdWaitfor,
		"nosecret":    cmdNosecret,
	}
}

var condRE = regexp.MustCompile(`^pg(dump)?(\d+)$`)

// Condition answers the script conditions [pgNN] (server binaries of major NN
// are available) and [pgdumpNN] (a pg_dump of major NN or newer is installed:
// SchemaDump, hence schemacmp, can describe a major NN server, and pgferry
// finds a pg_dump for an NN source). Chain it into testscript.Params.Condition.
// Under CI (the CI environment variable set) a missing pg_dump is an error,
// not a skip: CI must test every source version it claims to.
func Condition(cond string) (bool, error) {
	m := condRE.FindStringSubmatch(cond)
	if m == nil {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	major, _ := strconv.Atoi(m[2])
	if m[1] == "dump" {
		dumpMajor, err := PgDumpMajor()
		ok := err == nil && dumpMajor >= major
		if !ok && os.Getenv("CI") != "" {
			if err == nil {
				err = fmt.Errorf("the newest is pg_dump %d", dumpMajor)
			}
			return false, fmt.Errorf("pg_dump %d or newer required under CI (run `make pg-versions`): %v", major, err)
		}
		return ok, nil
	}
	return Available(major), nil
}

// scriptTimeout bounds one command; loading a sample database or polling
// take seconds, a stuck server would otherwise hang the whole test binary.
const scriptTimeout = 10 * time.Minute

func scriptCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), scriptTimeout)
}

func reg(ts *testscript.TestScript) *registry {
	r, _ := ts.Value(registryKey{}).(*registry)
	if r == nil {
		ts.Fatalf("pgtest.Setup is not part of testscript.Params.Setup")
	}
	return r
}

func cluster(ts *testscript.TestScript, name string) *Cluster {
	r := reg(ts)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clusters[name]
	if c == nil {
		ts.Fatalf("no cluster %s: start it with pgstart %s MAJOR", name, name)
	}
	return c
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func cmdPgstart(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! pgstart")
	}
	if testing.Short() {
		// The fast tier (go test -short) runs what needs no server: a script's steps before its
		// first pgstart, and no more.
		ts.Value(testKey{}).(testscript.T).Skip("the rest needs a PostgreSQL server: not run with -short")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: pgstart NAME MAJOR [key=value...]")
	}
	name := args[0]
	if !nameRE.MatchString(name) {
		ts.Fatalf("pgstart: NAME %q must be a valid environment variable prefix", name)
	}
	major, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("pgstart: MAJOR %q is not a number", args[1])
	}
	var opts []Option
	for _, kv := range args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("pgstart: setting %q is not key=value", kv)
		}
		opts = append(opts, WithConf(k, v))
	}
	r := reg(ts)
	r.mu.Lock()
	_, dup := r.clusters[name]
	r.mu.Unlock()
	if dup {
		ts.Fatalf("pgstart: cluster %s already started", name)
	}
	if _, err := BinDir(major); err != nil {
		// Custom commands cannot skip; scripts guard with [!pgNN] skip.
		ts.Fatalf("pgstart %s: %v\n(guard the script with: [!pg%d] skip)", name, err, major)
	}
	// $WORK lies under a root-only temporary directory; the server user
	// cannot reach it, so the cluster lives elsewhere.
	dir, err := MkdirTemp("pgferry-ts-")
	ts.Check(err)
	if err := claim(dir); err != nil {
		os.RemoveAll(dir)
		ts.Fatalf("pgstart %s: %v", name, err)
	}
	c, err := New(dir, major, opts...)
	if err != nil {
		os.RemoveAll(dir)
		ts.Fatalf("pgstart %s: %v", name, err)
	}
	r.mu.Lock()
	r.clusters[name] = c
	r.mu.Unlock()
	ts.Defer(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.clusters[name] == c {
			c.Destroy()
			delete(r.clusters, name)
		}
	})
	ts.Setenv(name+"_HOST", c.Host)
	ts.Setenv(name+"_PORT", strconv.Itoa(c.Port))
	ts.Setenv(name+"_USER", c.User)
	ts.Setenv(name+"_PASSWORD", c.Password)
	ts.Setenv(name+"_DSN", c.DSN("postgres"))
	ts.Setenv(name+"_DIR", c.Dir)
	ts.Logf("pgstart: %s is PostgreSQL %d on %s:%d in %s", name, major, c.Host, c.Port, c.Dir)
}

func cmdPgstop(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! pgstop")
	}
	if len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[1] != "immediate") {
		ts.Fatalf("usage: pgstop NAME [immediate]")
	}
	c := cluster(ts, args[0])
	if len(args) == 2 {
		ts.Check(c.StopImmediate())
	} else {
		ts.Check(c.Stop())
	}
}

func cmdPgrestart(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! pgrestart")
	}
	if len(args) != 1 {
		ts.Fatalf("usage: pgrestart NAME")
	}
	ts.Check(cluster(ts, args[0]).Restart())
}

// dbFlag splits off a leading "-db DB" (default postgres).
func dbFlag(args []string) (string, []string) {
	if len(args) >= 2 && args[0] == "-db" {
		return args[1], args[2:]
	}
	return "postgres", args
}

func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	db, args := dbFlag(args)
	if len(args) < 2 {
		ts.Fatalf("usage: sql [-db DB] NAME QUERY")
	}
	runSQL(ts, neg, cluster(ts, args[0]), db, strings.Join(args[1:], " "))
}

func cmdSQLFile(ts *testscript.TestScript, neg bool, args []string) {
	db, args := dbFlag(args)
	if len(args) != 2 {
		ts.Fatalf("usage: sqlfile [-db DB] NAME FILE")
	}
	c := cluster(ts, args[0])
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	runSQL(ts, neg, c, db, string(b))
}

func runSQL(ts *testscript.TestScript, neg bool, c *Cluster, db, query string) {
	ctx, cancel := scriptCtx()
	defer cancel()
	rows, err := c.Query(ctx, db, query)
	for _, row := range rows {
		fmt.Fprintln(ts.Stdout(), strings.Join(row, "\t"))
	}
	switch {
	case err != nil && neg:
		fmt.Fprintln(ts.Stderr(), err)
	case err != nil:
		ts.Fatalf("sql: %v", err)
	case neg:
		ts.Fatalf("sql: unexpected success")
	}
}

func cmdFingerprint(ts *testscript.TestScript, neg bool, args []string) {
	ctx, cancel := scriptCtx()
	defer cancel()
	switch len(args) {
	case 2:
		if neg {
			ts.Fatalf("unsupported: ! fingerprint NAME DB")
		}
		fp, err := cluster(ts, args[0]).Fingerprint(ctx, args[1])
		ts.Check(err)
		fmt.Fprint(ts.Stdout(), fp)
	case 4:
		a, err := cluster(ts, args[0]).Fingerprint(ctx, args[1])
		ts.Check(err)
		b, err := cluster(ts, args[2]).Fingerprint(ctx, args[3])
		ts.Check(err)
		compare(ts, neg, "fingerprint", args[0]+"/"+args[1], a, args[2]+"/"+args[3], b)
	default:
		ts.Fatalf("usage: fingerprint NAME DB [NAME2 DB2]")
	}
}

func cmdSchemacmp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: schemacmp NAME DB NAME2 DB2")
	}
	ctx, cancel := scriptCtx()
	defer cancel()
	a, err := cluster(ts, args[0]).SchemaDump(ctx, args[1])
	ts.Check(err)
	b, err := cluster(ts, args[2]).SchemaDump(ctx, args[3])
	ts.Check(err)
	compare(ts, neg, "schema", args[0]+"/"+args[1], a, args[2]+"/"+args[3], b)
}

func cmdRolescmp(ts *testscript.TestScript, neg bool, args []string) {
	var except []string
	if len(args) >= 2 && args[0] == "-except" {
		except = strings.Split(args[1], ",")
		args = args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: rolescmp [-except r1,r2] NAME NAME2")
	}
	ctx, cancel := scriptCtx()
	defer cancel()
	a, err := cluster(ts, args[0]).Roles(ctx)
	ts.Check(err)
	b, err := cluster(ts, args[1]).Roles(ctx)
	ts.Check(err)
	compare(ts, neg, "roles", args[0], FilterRoles(a, except), args[1], FilterRoles(b, except))
}

// compare fails the script with a unified diff when a and b differ (or,
// negated, when they are equal).
func compare(ts *testscript.TestScript, neg bool, what, nameA, a, nameB, b string) {
	switch {
	case a == b && neg:
		ts.Fatalf("%s of %s and %s are equal, a difference was expected", what, nameA, nameB)
	case a != b && !neg:
		ts.Logf("%s", diff.Diff(nameA, []byte(a), nameB, []byte(b)))
		ts.Fatalf("%s of %s and %s differ", what, nameA, nameB)
	case a != b:
		ts.Logf("%s differs as expected:\n%s", what, diff.Diff(nameA, []byte(a), nameB, []byte(b)))
	}
}

func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 4 || len(args) > 5 {
		ts.Fatalf("usage: waitfor NAME DB QUERY EXPECTED [TIMEOUT]")
	}
	c, db, query, want := cluster(ts, args[0]), args[1], args[2], args[3]
	timeout := 30 * time.Second
	if len(args) == 5 {
		d, err := time.ParseDuration(args[4])
		if err != nil {
			ts.Fatalf("waitfor: bad TIMEOUT %q: %v", args[4], err)
		}
		timeout = d
	}
	got, err := waitFor(c, db, query, want, timeout)
	switch {
	case got == want && neg:
		ts.Fatalf("waitfor: %q became %q, expected it not to within %v", query, want, timeout)
	case got != want && !neg:
		ts.Fatalf("waitfor: %q is %q after %v, want %q (last error: %v)", query, got, timeout, want, err)
	}
}

// waitFor polls query until its first value equals want or timeout passes,
// and returns the last value seen and the last error.
func waitFor(c *Cluster, db, query, want string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	var got string
	var lastErr error
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(time.Second))
		rows, err := c.Query(ctx, db, query)
		cancel()
		if err != nil {
			lastErr = err
		} else if len(rows) > 0 && len(rows[0]) > 0 {
			got = rows[0][0]
			if got == want {
				return got, nil
			}
		} else {
			got = "(no rows)"
		}
		if time.Now().After(deadline) {
			return got, lastErr
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cmdNosecret(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: nosecret PATH... (not negated)")
	}
	var secrets []string
	r := reg(ts)
	r.mu.Lock()
	for _, c := range r.clusters {
		if c.Password != "" {
			secrets = append(secrets, c.Password)
		}
	}
	r.mu.Unlock()
	if len(secrets) == 0 {
		ts.Fatalf("nosecret: no cluster started: no password to look for")
	}
	check := func(name, text string) {
		for _, sec := range secrets {
			if strings.Contains(text, sec) {
				ts.Fatalf("nosecret: %s holds a password", name)
			}
		}
	}
	files := 0
	for _, p := range args {
		if p == "stdout" || p == "stderr" {
			check(p, ts.ReadFile(p))
			files++
			continue
		}
		root := ts.MkAbs(p)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			check(path, string(b))
			files++
			return nil
		})
		if err != nil {
			ts.Fatalf("nosecret: %v", err)
		}
	}
	ts.Logf("nosecret: %d file(s) hold none of %d password(s)", files, len(secrets))
}
