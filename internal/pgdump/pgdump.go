// Package pgdump finds pg_dump and pg_restore, runs them without ever putting a
// password on a command line, and reads their archives' tables of contents.
//
// pgferry takes schema DDL from pg_dump rather than writing its own: pg_dump knows
// every object kind and every version's corner cases. This package turns an archive
// into entries that apply can schedule one by one.
package pgdump

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/pgferry/pgferry/internal/pgver"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tools is a matching pair of pg_dump and pg_restore.
type Tools struct {
	PgDump    string
	PgRestore string
	Version   string // e.g. "15.18"
	// Release is the tools' major as a version: 150000 for 15.x, 90600 for 9.6.
	Release pgver.V
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// Version runs `bin --version` and returns the version string and its major's first release. The
// answer is kept for the process's life, per binary as it is on disk (path, size, modification
// time): Prewarm asks it ahead.
func Version(bin string) (string, pgver.V, error) {
	fi, err := os.Stat(bin)
	if err != nil {
		return runVersion(bin)
	}
	r, _ := versions.LoadOrStore(versionKey{bin, fi.Size(), fi.ModTime()}, &versionResult{})
	vr := r.(*versionResult)
	vr.once.Do(func() { vr.v, vr.major, vr.err = runVersion(bin) })
	return vr.v, vr.major, vr.err
}

// versions holds Version's answers by versionKey.
var versions sync.Map

type versionKey struct {
	path string
	size int64
	mod  time.Time
}

type versionResult struct {
	once  sync.Once
	v     string
	major pgver.V
	err   error
}

// Prewarm asks Version of the pg_dump of every candidate directory (Candidates) in the
// background: Find, which needs the servers' versions first, then finds the answers ready instead
// of starting one process per candidate after the servers are read (10-30 ms on a quiet machine,
// a few tenths of a second on a busy one, before the schema dump can start).
func Prewarm(binDir string) {
	for _, dir := range Candidates(binDir) {
		go Version(filepath.Join(dir, "pg_dump"))
	}
}

func runVersion(bin string) (string, pgver.V, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", 0, fmt.Errorf("running %s --version: %w", bin, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return "", 0, fmt.Errorf("unrecognised version output of %s: %q", bin, strings.TrimSpace(string(out)))
	}
	maj, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	v := m[1]
	if m[2] != "" {
		v += "." + m[2]
	}
	return v, pgver.Of(maj, minor), nil
}

// BinPathEnv names the environment variable listing more directories to look for pg_dump in,
// colon-separated like PATH: client tools installed outside PATH and /usr/lib/postgresql
// (e.g. by `make pg-versions` under /opt/pgferry-pg/clients/MAJOR/bin).
const BinPathEnv = "PGFERRY_PG_BIN_PATH"

// debianRoot holds Debian's per-major installations, /usr/lib/postgresql/MAJOR/bin.
var debianRoot = "/usr/lib/postgresql"

// Candidates lists directories that may hold pg_dump, in order of preference: the configured
// directory alone when set; otherwise every directory on PATH that holds pg_dump, then the
// directories of $PGFERRY_PG_BIN_PATH, then /usr/lib/postgresql/*/bin (newest first). Find
// picks among all of them by version; the order only breaks ties between equal majors.
func Candidates(binDir string) []string {
	if binDir != "" {
		return []string{binDir}
	}
	return candidates(os.Getenv("PATH"), os.Getenv(BinPathEnv), debianRoot)
}

func candidates(path, binPath, debian string) []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(dir string) {
		if dir == "" {
			return
		}
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		if !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue // an empty PATH entry means the working directory: not a place for tools
		}
		p := filepath.Join(dir, "pg_dump")
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		// Debian's pg_wrapper picks a version by itself: look at the real binaries instead (the
		// glob below). A symlink to a real pg_dump counts for the directory it points into.
		r, err := filepath.EvalSymlinks(p)
		if err != nil || strings.HasSuffix(r, "pg_wrapper") {
			continue
		}
		add(filepath.Dir(r))
	}
	for _, dir := range filepath.SplitList(binPath) {
		add(dir)
	}
	found, _ := filepath.Glob(filepath.Join(debian, "*", "bin"))
	sort.SliceStable(found, func(i, j int) bool { return dirMajor(found[i]) > dirMajor(found[j]) })
	for _, dir := range found {
		add(dir)
	}
	return dirs
}

func dirMajor(dir string) float64 {
	f, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
	return f
}

// Find returns the pg_dump/pg_restore pair to use among the candidates: the newest whose major
// is at least minMajor (the source's) and at most maxMajor (the target's), or else the oldest
// newer than the target: a pg_dump newer than the server it restores to writes settings that
// server may not know (pg_dump 17's transaction_timeout). binDir, when set, is the only place
// looked at. maxMajor 0 means no upper preference.
func Find(binDir string, minMajor, maxMajor pgver.V) (*Tools, error) {
	return find(Candidates(binDir), binDir, minMajor, maxMajor)
}

func find(dirs []string, binDir string, minMajor, maxMajor pgver.V) (*Tools, error) {
	var found []Tools
	var seen []string
	for _, dir := range dirs {
		dump, restore := filepath.Join(dir, "pg_dump"), filepath.Join(dir, "pg_restore")
		if _, err := os.Stat(dump); err != nil {
			continue
		}
		if _, err := os.Stat(restore); err != nil {
			continue
		}
		v, major, err := Version(dump)
		if err != nil {
			continue
		}
		seen = append(seen, fmt.Sprintf("%s (%s)", dump, v))
		found = append(found, Tools{PgDump: dump, PgRestore: restore, Version: v, Release: major})
	}
	best := choose(found, minMajor, maxMajor)
	if best == nil {
		where := "on PATH, in " + BinPathEnv + " or in " + debianRoot + "/*/bin"
		if binDir != "" {
			where = "in " + binDir + " (options.pg_bin_dir)"
		}
		return nil, fmt.Errorf("pg_dump and pg_restore not found %s; install the PostgreSQL client (e.g. apt-get install postgresql-client-%d) or set options.pg_bin_dir or %s", where, max(minMajor.Major(), 15), BinPathEnv)
	}
	if best.Release < minMajor {
		return best, fmt.Errorf("pg_dump %s is older than the source server (major %s); found %s; install postgresql-client-%s or newer, or set options.pg_bin_dir",
			best.Version, minMajor.MajorString(), strings.Join(seen, ", "), minMajor.MajorString())
	}
	return best, nil
}

// choose picks among found (in order of preference; the first of equal majors wins): the newest
// with minMajor <= major <= maxMajor; else the oldest above maxMajor; else the newest (older than
// minMajor: Find reports it).
func choose(found []Tools, minMajor, maxMajor pgver.V) *Tools {
	var fits, newer, any *Tools
	for i := range found {
		t := &found[i]
		switch {
		case t.Release >= minMajor && (maxMajor == 0 || t.Release <= maxMajor):
			if fits == nil || t.Release > fits.Release {
				fits = t
			}
		case t.Release >= minMajor:
			if newer == nil || t.Release < newer.Release {
				newer = t
			}
		}
		if any == nil || t.Release > any.Release {
			any = t
		}
	}
	if fits != nil {
		return fits
	}
	if newer != nil {
		return newer
	}
	return any
}

// ForServer adapts the session settings at the head of a pg_restore script (its preamble) to
// the server that runs it: pg_restore 17 and later always set transaction_timeout, which servers
// before 17 reject ("unrecognized configuration parameter").
func ForServer(preamble string, serverVersionNum pgver.V) string {
	if serverVersionNum.AtLeast(17) || !strings.Contains(preamble, "transaction_timeout") {
		return preamble
	}
	lines := strings.SplitAfter(preamble, "\n")
	var b strings.Builder
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "SET transaction_timeout ") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// CreateScript turns what `pg_restore --create --verbose --file=-` prints for a database's own
// entries (DATABASE, DATABASE PROPERTIES, their COMMENT and ACL) into what a driver runs: the
// preamble, adapted to the server (ForServer), and one chunk per entry, without psql's
// meta-commands (\connect, \restrict) and without the session settings pg_restore repeats after
// each \connect (a connection to the new database runs the preamble once). Running this instead
// of letting pg_restore connect is what lets a pg_restore newer than the target create the
// database: pg_restore 17 sets transaction_timeout on every connection, which a 16 server rejects.
func CreateScript(script []byte, serverVersionNum pgver.V) (preamble string, chunks []Chunk) {
	var b strings.Builder
	reconnect := false // inside the settings that follow a \connect
	for _, l := range strings.SplitAfter(string(script), "\n") {
		if strings.HasPrefix(l, `\connect`) {
			reconnect = true
			continue
		}
		t := strings.TrimSpace(l)
		if reconnect && (t == "" || strings.HasPrefix(t, "SET ") || strings.HasPrefix(t, "SELECT pg_catalog.set_config(")) {
			continue
		}
		if strings.HasPrefix(l, `\restrict `) || strings.HasPrefix(l, `\unrestrict `) {
			continue
		}
		reconnect = false
		b.WriteString(l)
	}
	preamble, chunks = SplitScript([]byte(b.String()))
	return ForServer(preamble, serverVersionNum), chunks
}

// SeparateCreateDatabase splits the chunk of a DATABASE entry into its CREATE DATABASE statement,
// which must run alone (not in a transaction block, as a multi-statement query would put it), and
// the rest (its owner). pg_dump prints CREATE DATABASE on one line. ok is false when the chunk has
// none.
func SeparateCreateDatabase(sql string) (create, rest string, ok bool) {
	var r strings.Builder
	for _, l := range strings.SplitAfter(sql, "\n") {
		if !ok && strings.HasPrefix(l, "CREATE DATABASE ") {
			create, ok = strings.TrimSpace(l), true
			continue
		}
		r.WriteString(l)
	}
	return create, r.String(), ok
}

// Conn is how to reach a database: passed to the tools as libpq environment variables so that no
// password ever appears on a command line (visible in ps) or in an error message.
type Conn struct {
	Host, User, Password, DBName, SSLMode, SSLRootCert, SSLCert, SSLKey string
	Port                                                                int
}

// Env returns the environment for a child process connecting with c.
func (c Conn) Env() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue // the config decides, not stray PG* variables
		}
		env = append(env, kv)
	}
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("PGHOST", c.Host)
	add("PGPORT", strconv.Itoa(c.Port))
	add("PGUSER", c.User)
	add("PGDATABASE", c.DBName)
	add("PGSSLMODE", c.SSLMode)
	add("PGSSLROOTCERT", c.SSLRootCert)
	add("PGSSLCERT", c.SSLCert)
	add("PGSSLKEY", c.SSLKey)
	add("PGAPPNAME", "pgferry")
	if c.Password != "" {
		env = append(env, "PGPASSWORD="+c.Password)
		return env
	}
	// No password configured: the tool finds it as pgferry's own connection did (and libpq does),
	// PGPASSWORD first, then the password file (PGPASSFILE, else ~/.pgpass).
	add("PGPASSWORD", os.Getenv("PGPASSWORD"))
	add("PGPASSFILE", os.Getenv("PGPASSFILE"))
	return env
}

// Run runs a tool with c's environment and returns its stdout; on failure the error carries the
// tool's stderr (which libpq never fills with the password).
func Run(ctx context.Context, c Conn, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.Env()
	dieWithParent(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &RunError{Tool: filepath.Base(bin), Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// RunError is a tool's failed run: its exit status and what it printed on stderr.
type RunError struct {
	Tool   string // pg_dump, pg_restore, ...
	Err    error  // the exit status
	Stderr string
}

// Error is the tool's name, exit status and stderr (cut at 4000 bytes).
func (e *RunError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if len(msg) > 4000 {
		msg = msg[:4000] + "…"
	}
	return fmt.Sprintf("%s failed: %v: %s", e.Tool, e.Err, msg)
}

func (e *RunError) Unwrap() error { return e.Err }

// QueryError is a statement pg_restore ran that the server refused, as pg_restore prints it
// ("could not execute query: ERROR:  ...", "Command was: ..."). pg_restore does not print the
// SQLSTATE.
type QueryError struct {
	Message, Detail, Hint string
	Command               string
}

var queryFailed = regexp.MustCompile(`(?s)could not execute query: (?:ERROR|FATAL|PANIC): +(.*?)\nCommand was: (.*?)(?:\n(?:pg_restore|pg_dump): |\z)`)

// QueryError finds the statement the server refused in the tool's output, if it printed one.
func (e *RunError) QueryError() (QueryError, bool) {
	m := queryFailed.FindStringSubmatch(e.Stderr)
	if m == nil {
		return QueryError{}, false
	}
	q := QueryError{Command: strings.TrimSpace(m[2])}
	for i, l := range strings.Split(m[1], "\n") {
		switch {
		case i == 0:
			q.Message = strings.TrimSpace(l)
		case strings.HasPrefix(l, "DETAIL:"):
			q.Detail = strings.TrimSpace(strings.TrimPrefix(l, "DETAIL:"))
		case strings.HasPrefix(l, "HINT:"):
			q.Hint = strings.TrimSpace(strings.TrimPrefix(l, "HINT:"))
		}
	}
	return q, true
}

// Entry is one line of an archive's table of contents.
type Entry struct {
	DumpID   int
	TableOID uint32 // catalog of the object: 1259 pg_class, 2606 pg_constraint, ...
	OID      uint32
	Desc     string // TABLE, INDEX, CONSTRAINT, FK CONSTRAINT, DATABASE, ...
	Rest     string // schema, tag and owner as printed
	Line     string // the whole line, as pg_restore --use-list wants it
}

// multi-word descriptions first, so the longest match wins.
var descs = []string{
	"MATERIALIZED VIEW DATA", "DATABASE PROPERTIES", "FK CONSTRAINT", "INDEX ATTACH", "DEFAULT ACL",
	"EVENT TRIGGER", "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "FOREIGN TABLE", "LARGE OBJECT", "MATERIALIZED VIEW",
	"OPERATOR CLASS", "OPERATOR FAMILY", "PROCEDURAL LANGUAGE", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA",
	"ROW SECURITY", "SECURITY LABEL", "SEQUENCE OWNED BY", "SEQUENCE SET", "SHELL TYPE", "TABLE ATTACH", "TABLE DATA",
	"TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
	"USER MAPPING", "STATISTICS DATA", "BLOB METADATA", "LARGE OBJECTS",
}

// ParseList parses `pg_restore --list` output.
func ParseList(out []byte) ([]Entry, error) {
	var entries []Entry
	err := ScanList(bytes.NewReader(out), func(e Entry) { entries = append(entries, e) })
	return entries, err
}

// ScanList parses `pg_restore --list` output as it is read, calling f with each entry in order.
func ScanList(r io.Reader, f func(Entry)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		id, rest, ok := strings.Cut(line, "; ")
		if !ok {
			return fmt.Errorf("unexpected TOC line %q", line)
		}
		var e Entry
		var err error
		if e.DumpID, err = strconv.Atoi(strings.TrimSpace(id)); err != nil {
			return fmt.Errorf("unexpected TOC line %q", line)
		}
		fs := strings.SplitN(rest, " ", 3)
		if len(fs) < 3 {
			return fmt.Errorf("unexpected TOC line %q", line)
		}
		t, _ := strconv.ParseUint(fs[0], 10, 32)
		o, _ := strconv.ParseUint(fs[1], 10, 32)
		e.TableOID, e.OID = uint32(t), uint32(o)
		e.Desc, e.Rest = splitDesc(fs[2])
		e.Line = line
		f(e)
	}
	return sc.Err()
}

func splitDesc(s string) (string, string) {
	for _, d := range descs {
		if strings.HasPrefix(s, d+" ") {
			return d, s[len(d)+1:]
		}
	}
	d, rest, _ := strings.Cut(s, " ")
	return d, rest
}

// Chunk is the SQL of one TOC entry as pg_restore prints it.
type Chunk struct {
	DumpID int
	SQL    string
	// Deps are the dump IDs of the entries it depends on, as the verbose script lists them.
	Deps []int
}

// tocComment and depsLine are a chunk's TOC comment and its dependencies line (ScanChunks).
var (
	tocComment = regexp.MustCompile(`(?m)^-- TOC entry (\d+) \(class \d+ OID \d+\)$`)
	depsLine   = regexp.MustCompile(`(?m)^-- Dependencies: ([0-9 ]+)$`)
)

// SplitScript splits a verbose pg_restore script (-v -f -) into the preamble (session settings) and
// one chunk per TOC entry, in the script's order (ScriptReader, keeping every line).
func SplitScript(script []byte) (preamble string, chunks []Chunk) {
	preamble, chunks, _ = ReadScript(bytes.NewReader(script), false) // a bytes.Reader never fails
	return preamble, chunks
}

// HeaderLen is the length of the comment lines a chunk starts with (its header).
func HeaderLen(sql string) int {
	n := 0
	for n < len(sql) && strings.HasPrefix(sql[n:], "--") {
		i := strings.IndexByte(sql[n:], '\n')
		if i < 0 {
			return len(sql)
		}
		n += i + 1
	}
	return n
}

// WriteList writes a --use-list file holding the given entries, in order.
func WriteList(path string, entries []Entry) error {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Line)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
