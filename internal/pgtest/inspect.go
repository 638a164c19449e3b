package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// sessionSettings make the text form of every value the same on every
// supported server version (12+: from 12 on extra_float_digits > 0 means
// shortest exact output) whatever the database or role defaults are.
const sessionSettings = `SET extra_float_digits = 3;
SET DateStyle = 'ISO, MDY';
SET IntervalStyle = 'postgres';
SET TimeZone = 'UTC';
SET bytea_output = 'hex';
SET lc_monetary = 'C';
SET search_path = pg_catalog;
SET statement_timeout = 0;`

// relationsQuery lists what Fingerprint hashes: ordinary tables (partitions
// and unlogged tables included, temporary ones not) and materialized views.
// Partitioned parents are skipped: their leaves carry the rows.
const relationsQuery = `
SELECT n.nspname, c.relname, c.relkind, c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'S') AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
ORDER BY 1, 2`

// Fingerprint describes the data of the database dsn names, one sorted line
// per relation:
//
//	schema.table rows=N sum=H
//	schema.seq last_value=N is_called=true|false
//
// H sums a 64-bit prefix of md5(row::text) over the rows, so it ignores row
// order and physical layout; equal fingerprints mean equal rows (up to hash
// collisions) in every table and materialized view, and equal sequence
// positions. An unpopulated materialized view reads "rows=unpopulated".
// Values are hashed in their text form under fixed session settings, which
// is the same on every major from 12 on; servers before 12 print floats with
// extra digits, so their float columns hash differently.
func Fingerprint(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("pgtest: fingerprint: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := queryText(ctx, conn, sessionSettings); err != nil {
		return "", fmt.Errorf("pgtest: fingerprint: %w", err)
	}
	rels, err := queryText(ctx, conn, relationsQuery)
	if err != nil {
		return "", fmt.Errorf("pgtest: fingerprint: listing relations: %w", err)
	}
	var lines []string
	for _, r := range rels {
		schema, name, kind, populated := r[0], r[1], r[2], r[3]
		ident := pgx.Identifier{schema, name}.Sanitize()
		label := schema + "." + name
		switch {
		case kind == "S":
			rows, err := queryText(ctx, conn, "SELECT last_value, is_called FROM "+ident)
			if err != nil {
				return "", fmt.Errorf("pgtest: fingerprint: reading sequence %s: %w", label, err)
			}
			lines = append(lines, fmt.Sprintf("%s last_value=%s is_called=%t", label, rows[0][0], rows[0][1] == "t"))
		case kind == "m" && populated != "t":
			lines = append(lines, label+" rows=unpopulated")
		default:
			rows, err := queryText(ctx, conn, "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0) FROM ONLY "+ident+" t")
			if err != nil {
				return "", fmt.Errorf("pgtest: fingerprint: hashing %s: %w", label, err)
			}
			lines = append(lines, fmt.Sprintf("%s rows=%s sum=%s", label, rows[0][0], rows[0][1]))
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "", nil
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// Fingerprint is Fingerprint of database db.
func (c *Cluster) Fingerprint(ctx context.Context, db string) (string, error) {
	return Fingerprint(ctx, c.DSN(db))
}

// SchemaDump returns `pg_dump --schema-only` of the database dsn names,
// normalised so that dumps of equal schemas are equal text: comment lines,
// SET lines, the search_path reset, \restrict/\unrestrict lines (their key
// is random) and runs of blank lines are dropped. It uses the newest pg_dump
// installed, Debian's or one of ClientDirs (or $PGFERRY_PG_DUMP), which must
// be at least as new as the server; comparing two dumps, both sides use it.
func SchemaDump(ctx context.Context, dsn string) (string, error) {
	tool, err := findClientTool("pg_dump")
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, tool.Path, "--schema-only", "--no-password", "--dbname", dsn)
	cmd.Env = append(serverEnv(), "PGCONNECT_TIMEOUT=10")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "server version mismatch") {
			msg += fmt.Sprintf("\n(pg_dump %d cannot dump newer servers; run `make pg-versions` "+
				"or point PGFERRY_PG_DUMP at a newer one)", tool.Major)
		}
		return "", fmt.Errorf("pgtest: %s --schema-only: %w\n%s", tool.Path, err, msg)
	}
	return NormalizeDump(stdout.String()), nil
}

// SchemaDump is SchemaDump of database db.
func (c *Cluster) SchemaDump(ctx context.Context, db string) (string, error) {
	return SchemaDump(ctx, c.DSN(db))
}

// procInRE finds the explicit IN mode that servers from 14 on print in
// procedure signatures ("mark_paid(IN p bigint)") and older ones omit.
// IN is a reserved word, so it cannot be a parameter or type name there.
var procInRE = regexp.MustCompile(`([(]|, )IN `)

// rangeTypeRE finds the first line of a range type's definition in a dump.
var rangeTypeRE = regexp.MustCompile(`^CREATE TYPE (.+) AS RANGE \($`)

// defaultMultirange is the name of the multirange type the server (14+) makes
// for range type qualified (schema.name, as pg_dump prints it) when CREATE
// TYPE names none: "range" in the name becomes "multirange" (the first one),
// else "_multirange" is appended.
func defaultMultirange(qualified string) string {
	schema, name, ok := strings.Cut(qualified, ".")
	if !ok || strings.Contains(qualified, `"`) {
		return "" // quoted names are left as they are
	}
	if i := strings.Index(name, "range"); i >= 0 {
		return schema + "." + name[:i] + "multi" + name[i:]
	}
	return schema + "." + name + "_multirange"
}

// NormalizeDump applies SchemaDump's normalisation to pg_dump output. Besides
// dropping what varies between dumps, it evens out the deparsing differences
// between supported majors that a plain schema shows: the IN mode of
// procedure parameters, EXECUTE PROCEDURE in triggers of servers before 12
// (EXECUTE FUNCTION from 12 on), the multirange type name that dumps of 14+ give
// every range type, dropped when it is the default one (older servers have
// no multirange types; newer ones make them with the range type), and the table
// name before the columns of a view over one table, which servers before 16
// print (products.id) and later ones omit (unqualifyViews).
func NormalizeDump(dump string) string {
	return unqualifyViews(normalizeLines(dump))
}

// viewStartRE and viewFromRE find a view's definition in a schema dump: its
// CREATE line, and a FROM line naming one relation without an alias.
var (
	viewStartRE = regexp.MustCompile(`^CREATE (MATERIALIZED )?VIEW .* AS$`)
	viewFromRE  = regexp.MustCompile(`^\s+FROM (?:[A-Za-z_][A-Za-z0-9_$]*\.)?([A-Za-z_][A-Za-z0-9_$]*);?$`)
)

// unqualifyViews drops "rel." before column names in the query of a view
// (or materialized view) that reads a single relation rel: no join, no
// subquery, no alias. From 16 on, the server omits that qualification, so a
// view dumped from a 13 or 15 server would otherwise differ from the same
// view on 16+ only in how it is printed.
func unqualifyViews(dump string) string {
	lines := strings.Split(dump, "\n")
	for i := 0; i < len(lines); i++ {
		if !viewStartRE.MatchString(lines[i]) {
			continue
		}
		end := i + 1
		for end < len(lines) && !strings.HasSuffix(lines[end], ";") {
			end++
		}
		if end == len(lines) {
			break
		}
		body := lines[i+1 : end+1]
		rel, froms := "", 0
		for _, l := range body {
			// A FROM clause starts its line (EXTRACT(year FROM x) does not); joins and
			// subqueries anywhere.
			if t := strings.TrimSpace(l); strings.HasPrefix(t, "FROM ") || strings.Contains(l, "JOIN ") || strings.Contains(l, "SELECT ") && l != body[0] {
				froms++
			}
			if m := viewFromRE.FindStringSubmatch(l); m != nil {
				rel = m[1]
			}
		}
		if rel != "" && froms == 1 {
			qual := regexp.MustCompile(`(^|[^A-Za-z0-9_$."])` + regexp.QuoteMeta(rel) + `\.`)
			for k, l := range body {
				if viewFromRE.MatchString(l) {
					continue
				}
				body[k] = qual.ReplaceAllString(l, "$1")
			}
		}
		i = end
	}
	return strings.Join(lines, "\n")
}

func normalizeLines(dump string) string {
	var out []string
	blank := true    // drops leading blank lines
	multirange := "" // the default multirange attribute line of the range type being read
	for _, line := range strings.Split(dump, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if m := rangeTypeRE.FindStringSubmatch(line); m != nil {
			if d := defaultMultirange(m[1]); d != "" {
				multirange = "    multirange_type_name = " + d
			}
		} else if line == ");" {
			multirange = ""
		}
		switch {
		case multirange != "" && line == multirange+",":
			continue
		case multirange != "" && line == multirange: // the last attribute: the one before loses its comma
			out[len(out)-1] = strings.TrimSuffix(out[len(out)-1], ",")
			continue
		case strings.HasPrefix(line, "--"),
			strings.HasPrefix(line, "SET ") && strings.HasSuffix(line, ";"),
			strings.HasPrefix(line, "SELECT pg_catalog.set_config('search_path'"),
			strings.HasPrefix(line, `\restrict`), strings.HasPrefix(line, `\unrestrict`):
			continue
		case line == "":
			if !blank {
				out = append(out, "")
			}
			blank = true
		default:
			if strings.HasPrefix(line, "CREATE TRIGGER ") || strings.HasPrefix(line, "CREATE CONSTRAINT TRIGGER ") {
				// Servers before 12 print EXECUTE PROCEDURE, which 12+ print as EXECUTE FUNCTION.
				line = strings.Replace(line, " EXECUTE PROCEDURE ", " EXECUTE FUNCTION ", 1)
			} else if strings.Contains(line, "PROCEDURE ") {
				line = procInRE.ReplaceAllString(line, "$1")
			}
			out = append(out, line)
			blank = false
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}

// rolesQuery lists non-system roles with the attributes pg_dumpall
// --globals-only carries, except passwords and validity, which need
// pg_authid and are checked by tests that care.
const rolesQuery = `
SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
       rolreplication, rolbypassrls, rolconnlimit
FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_' ORDER BY 1`

// membersQuery lists memberships of non-system roles (in any role,
// predefined ones included).
const membersQuery = `
SELECT m.rolname, r.rolname, a.admin_option
FROM pg_catalog.pg_auth_members a
JOIN pg_catalog.pg_roles r ON r.oid = a.roleid
JOIN pg_catalog.pg_roles m ON m.oid = a.member
WHERE m.rolname !~ '^pg_' ORDER BY 1, 2`

// Roles describes the non-system roles of the server dsn points at, one
// sorted line each, then their memberships:
//
//	role app_owner superuser=false login=true createdb=false createrole=false inherit=true replication=false bypassrls=false connlimit=-1
//	member app_writer of app_reader admin=false
func Roles(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("pgtest: roles: %w", err)
	}
	defer conn.Close(context.Background())
	roles, err := queryText(ctx, conn, rolesQuery)
	if err != nil {
		return "", fmt.Errorf("pgtest: roles: %w", err)
	}
	members, err := queryText(ctx, conn, membersQuery)
	if err != nil {
		return "", fmt.Errorf("pgtest: role memberships: %w", err)
	}
	var roleLines, memberLines []string
	b := func(s string) bool { return s == "t" }
	for _, r := range roles {
		roleLines = append(roleLines, fmt.Sprintf(
			"role %s superuser=%t login=%t createdb=%t createrole=%t inherit=%t replication=%t bypassrls=%t connlimit=%s",
			r[0], b(r[1]), b(r[5]), b(r[4]), b(r[3]), b(r[2]), b(r[6]), b(r[7]), r[8]))
	}
	// PostgreSQL 16 records one row per grantor; the same membership granted
	// twice is still one membership.
	seen := map[string]bool{}
	for _, m := range members {
		line := fmt.Sprintf("member %s of %s admin=%t", m[0], m[1], b(m[2]))
		if !seen[line] {
			seen[line] = true
			memberLines = append(memberLines, line)
		}
	}
	sort.Strings(roleLines)
	sort.Strings(memberLines)
	all := append(roleLines, memberLines...)
	if len(all) == 0 {
		return "", nil
	}
	return strings.Join(all, "\n") + "\n", nil
}

// Roles is Roles of the cluster.
func (c *Cluster) Roles(ctx context.Context) (string, error) {
	return Roles(ctx, c.DSN("postgres"))
}

// FilterRoles drops from a Roles text every line that names one of the
// given roles, as a role or in a membership.
func FilterRoles(roles string, except []string) string {
	drop := map[string]bool{}
	for _, r := range except {
		drop[r] = true
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(roles, "\n"), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "role" && drop[f[1]]:
		case len(f) >= 4 && f[0] == "member" && (drop[f[1]] || drop[f[3]]):
		case line == "":
		default:
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}
