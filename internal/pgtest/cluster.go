package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is one PostgreSQL server created by New: a data directory under
// Dir, listening on Host:Port, with superuser User/Password. Its fields are
// fixed once New returns; Start, Stop and Restart keep the same port.
type Cluster struct {
	Major    int    `json:"major"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	Dir      string `json:"dir"`
	BinDir   string `json:"bin_dir"`

	// Conf holds the postgresql.conf settings New wrote (ours and
	// WithConf's), in order; kept so that cluster.json documents them.
	Conf []Setting `json:"conf"`
}

// Setting is one postgresql.conf parameter.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Option adjusts how New creates a cluster.
type Option func(*options)

type options struct {
	conf      []Setting
	trustAuth bool
	port      int
}

// WithConf adds a postgresql.conf setting (e.g. wal_level=logical); it wins
// over the defaults New writes.
func WithConf(key, value string) Option {
	return func(o *options) { o.conf = append(o.conf, Setting{key, value}) }
}

// WithTrustAuth makes TCP connections need no password (the superuser still
// has one, so DSN works either way).
func WithTrustAuth() Option { return func(o *options) { o.trustAuth = true } }

// WithPort fixes the listening port instead of picking a free one; a clash
// is then an error rather than a retry.
func WithPort(port int) Option { return func(o *options) { o.port = port } }

const (
	// stateFile in Dir records the Cluster so that Load (pgcluster stop) can
	// find a server started by another process.
	stateFile = "cluster.json"
	logFile   = "postgres.log"
	confFile  = "pgferry.conf"
	// startTimeout bounds pg_ctl start/stop waits; slow CI machines with
	// several clusters starting at once need more than pg_ctl's 60s default.
	startTimeout = 120
)

// DataDir is the cluster's PGDATA.
func (c *Cluster) DataDir() string { return filepath.Join(c.Dir, "data") }

// LogPath is the server log file that LogTail reads.
func (c *Cluster) LogPath() string { return filepath.Join(c.Dir, logFile) }

// DSN returns a URL connection string for database db as the superuser.
func (c *Cluster) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.User, c.Password),
		Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// New creates a cluster of the given major version in dir (created if
// missing; it must not hold one already) and starts it. When we are root the
// directory is handed to the postgres OS user.
func New(dir string, major int, opts ...Option) (*Cluster, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := BinDir(major)
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err == nil {
		return nil, fmt.Errorf("pgtest: %s already holds a cluster; use Load", dir)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	c := &Cluster{Major: major, Host: "127.0.0.1", User: "postgres", Dir: dir, BinDir: bin}
	if c.Password, err = randomPassword(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.initdb(ctx, o.trustAuth); err != nil {
		return nil, err
	}
	c.Conf = append([]Setting{
		{"listen_addresses", c.Host},
		{"unix_socket_directories", c.Dir},
		{"fsync", "off"},
		{"full_page_writes", "off"},
		{"synchronous_commit", "off"},
		{"max_connections", "60"},
		{"shared_buffers", "64MB"},
		{"logging_collector", "off"},
		{"log_line_prefix", "%m [%p] %q%u@%d "},
	}, o.conf...)
	if err := c.includeConf(); err != nil {
		return nil, err
	}

	// A free port found now may be taken before the server binds it (other
	// tests start clusters concurrently); then we try another.
	for attempt := 1; ; attempt++ {
		c.Port = o.port
		if c.Port == 0 {
			if c.Port, err = freePort(); err != nil {
				return nil, err
			}
		}
		if err := c.writeConf(); err != nil {
			return nil, err
		}
		err = c.Start(ctx)
		if err == nil {
			break
		}
		if o.port != 0 || attempt == 5 || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	if err := c.save(); err != nil {
		c.StopImmediate()
		return nil, err
	}
	return c, nil
}

// Load returns the cluster that New created in dir, as recorded in its
// cluster.json; it does not start or check the server.
//
// A cluster directory copied (cp -a) or moved elsewhere still records the
// original's directory, port and socket directory: started as recorded, it
// would run pg_ctl on the original (or clash with it on its port and socket).
// Load makes such a copy its own first (see relocate) and records it, or
// refuses when the copy was taken from a running server.
func Load(dir string) (*Cluster, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("pgtest: no cluster recorded in %s: %w", dir, err)
	}
	c := new(Cluster)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("pgtest: reading %s: %w", filepath.Join(dir, stateFile), err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if !sameDir(c.Dir, abs) {
		if err := c.relocate(abs); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// sameDir reports whether a and b name the same existing directory.
func sameDir(a, b string) bool {
	if a == b {
		return true
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// relocate makes a copied cluster, now in dir, its own: every recorded path
// under the original's directory (the socket directory) moves to dir, it
// gets a free port of its own (the original may run beside it), and
// pgferry.conf and cluster.json are rewritten. A copy taken while its server
// ran carries that server's postmaster.pid: it is refused, since pg_ctl would
// take the original's live process for the copy's.
func (c *Cluster) relocate(dir string) error {
	old := c.Dir
	pid, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err == nil {
		lines := strings.SplitN(string(pid), "\n", 3)
		if len(lines) > 1 && lines[1] != filepath.Join(dir, "data") {
			return fmt.Errorf("pgtest: %s is a copy of the cluster in %s taken while its server was running "+
				"(data/postmaster.pid names %s); stop the original (pgcluster stop --dir %s) and copy it again",
				dir, old, lines[1], old)
		}
	}
	c.Dir = dir
	for i, s := range c.Conf {
		if s.Value == old {
			c.Conf[i].Value = dir
		} else if rest, ok := strings.CutPrefix(s.Value, old+string(filepath.Separator)); ok {
			c.Conf[i].Value = filepath.Join(dir, rest)
		}
	}
	if c.Port, err = freePort(); err != nil {
		return err
	}
	if err := c.writeConf(); err != nil {
		return fmt.Errorf("pgtest: making the copy in %s of the cluster in %s its own: %w", dir, old, err)
	}
	if err := c.save(); err != nil {
		return fmt.Errorf("pgtest: making the copy in %s of the cluster in %s its own: %w", dir, old, err)
	}
	return nil
}

func (c *Cluster) save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	// It holds the superuser password: owner-only.
	return os.WriteFile(filepath.Join(c.Dir, stateFile), append(b, '\n'), 0o600)
}

func randomPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) initdb(ctx context.Context, trust bool) error {
	pwfile := filepath.Join(c.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := chownToServer(pwfile); err != nil {
		return err
	}
	hostAuth := "scram-sha-256"
	if trust {
		hostAuth = "trust"
	}
	var lastErr error
	for _, locale := range locales() {
		args := []string{
			"-D", c.DataDir(), "-U", c.User, "--pwfile", pwfile,
			"-E", "UTF8", "--locale", locale,
			"--auth-local=trust", "--auth-host=" + hostAuth,
			"--no-sync",
		}
		out, err := c.run(ctx, "initdb", args...)
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("pgtest: initdb (PostgreSQL %d, locale %s) failed: %w\n%s", c.Major, locale, err, out)
		os.RemoveAll(c.DataDir())
	}
	return lastErr
}

var (
	localesOnce sync.Once
	localesVal  []string
)

// locales returns the locales to try for initdb, best first: C.UTF-8 when
// the system has it (it sorts like C but classifies Unicode), then C.
func locales() []string {
	localesOnce.Do(func() {
		localesVal = []string{"C"}
		out, err := exec.Command("locale", "-a").Output()
		if err != nil {
			for _, d := range []string{"/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"} {
				if _, err := os.Stat(d); err == nil {
					localesVal = []string{"C.UTF-8", "C"}
				}
			}
			return
		}
		for _, l := range strings.Fields(string(out)) {
			if ll := strings.ToLower(l); ll == "c.utf8" || ll == "c.utf-8" {
				localesVal = []string{"C.UTF-8", "C"}
			}
		}
	})
	return localesVal
}

// includeConf makes postgresql.conf include our settings file, which
// writeConf rewrites. ALTER SYSTEM (postgresql.auto.conf) stays free for
// the code under test, so RESET ALL there cannot lose our port.
func (c *Cluster) includeConf() error {
	f, err := os.OpenFile(filepath.Join(c.DataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n# pgtest settings\ninclude '%s'\n", confFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *Cluster) writeConf() error {
	var b strings.Builder
	b.WriteString("# written by pgtest; changes are overwritten\n")
	fmt.Fprintf(&b, "port = %s\n", confQuote(strconv.Itoa(c.Port)))
	for _, s := range c.Conf {
		fmt.Fprintf(&b, "%s = %s\n", s.Key, confQuote(s.Value))
	}
	path := filepath.Join(c.DataDir(), confFile)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return chownToServer(path)
}

func confQuote(v string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", "''") + "'"
}

// run runs a program of the cluster's bin directory as the server user and
// returns its combined output.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd, err := serverCmd(ctx, filepath.Join(c.BinDir, prog), args...)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port already in use")

// Start starts the server and waits until it accepts connections. Starting a
// running cluster is a no-op.
func (c *Cluster) Start(ctx context.Context) error {
	if c.Running() {
		return nil
	}
	logPath := c.LogPath()
	var logStart int64
	if fi, err := os.Stat(logPath); err == nil {
		logStart = fi.Size()
	}
	out, err := c.run(ctx, "pg_ctl", "start", "-w", "-s", "-t", strconv.Itoa(startTimeout),
		"-D", c.DataDir(), "-l", logPath)
	if err == nil {
		return nil
	}
	log := readFrom(logPath, logStart)
	if strings.Contains(log, "Address already in use") || strings.Contains(log, "could not bind") ||
		strings.Contains(log, "could not create lock file") {
		err = fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return fmt.Errorf("pgtest: starting PostgreSQL %d in %s on port %d: %w\n%s\nserver log:\n%s",
		c.Major, c.Dir, c.Port, err, out, tailLines(log, 30))
}

// Running reports whether pg_ctl sees a server running on the data directory.
func (c *Cluster) Running() bool {
	_, err := c.run(context.Background(), "pg_ctl", "status", "-D", c.DataDir())
	return err == nil
}

// Stop shuts the server down in fast mode (rolling back open transactions)
// and waits for it to exit. Stopping a stopped cluster is a no-op.
func (c *Cluster) Stop() error { return c.stop("fast") }

// StopImmediate kills the server without a shutdown checkpoint, as a crash
// would; the next Start runs crash recovery.
func (c *Cluster) StopImmediate() error { return c.stop("immediate") }

func (c *Cluster) stop(mode string) error {
	if !c.Running() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout*time.Second)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "stop", "-w", "-s", "-t", strconv.Itoa(startTimeout),
		"-m", mode, "-D", c.DataDir())
	if err != nil && c.Running() {
		return fmt.Errorf("pgtest: stopping PostgreSQL in %s (%s): %w\n%s", c.Dir, mode, err, out)
	}
	return nil
}

// Restart stops the server (fast mode) and starts it again on the same port.
func (c *Cluster) Restart() error {
	if err := c.Stop(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout*time.Second)
	defer cancel()
	return c.Start(ctx)
}

// Destroy stops the server at once and removes its directory.
func (c *Cluster) Destroy() error {
	err := c.StopImmediate()
	if rerr := os.RemoveAll(c.Dir); err == nil {
		err = rerr
	}
	return err
}

// LogTail returns the last lines of the server log, for failure messages.
func (c *Cluster) LogTail() string {
	return tailLines(readFrom(c.LogPath(), -64<<10), 40)
}

// readFrom reads path from offset off, or its last -off bytes when off < 0.
func readFrom(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if off < 0 {
		if fi, err := f.Stat(); err == nil && fi.Size() > -off {
			off = fi.Size() + off
		} else {
			off = 0
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Connect opens a connection to database db as the superuser.
func (c *Cluster) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		return nil, fmt.Errorf("pgtest: connecting to %s on port %d: %w", db, c.Port, err)
	}
	return conn, nil
}

// Exec runs sql, which may hold several statements, in database db with the
// simple query protocol (so also statements that cannot run in a
// transaction block, when given alone).
func (c *Cluster) Exec(ctx context.Context, db, sql string) error {
	return Exec(ctx, c.DSN(db), sql)
}

// Query runs sql like Exec and returns the rows of every statement that
// returned any, in order, each value in its text form; NULL is "NULL".
func (c *Cluster) Query(ctx context.Context, db, sql string) ([][]string, error) {
	return Query(ctx, c.DSN(db), sql)
}

// Exec runs sql (one or several statements) on the database dsn names.
func Exec(ctx context.Context, dsn, sql string) error {
	_, err := Query(ctx, dsn, sql)
	return err
}

// Query runs sql (one or several statements) on the database dsn names and
// returns the rows of every statement that returned any, values as text.
func Query(ctx context.Context, dsn, sql string) ([][]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	return queryText(ctx, conn, sql)
}

// queryText runs sql with the simple protocol, in which the server sends
// every value as text, so no type needs decoding.
func queryText(ctx context.Context, conn *pgx.Conn, sql string) ([][]string, error) {
	results, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, r := range results {
		if r.Err != nil {
			return rows, r.Err
		}
		for _, row := range r.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				if v == nil {
					vals[i] = "NULL"
				} else {
					vals[i] = string(v)
				}
			}
			rows = append(rows, vals)
		}
	}
	return rows, nil
}
