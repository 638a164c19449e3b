package apply

// Drift: what a finished apply left on the target (state.Baseline), and what changed since.
// destroy and cancel compare the target with the baseline before they drop anything: rows written
// to migrated tables, objects created, altered or dropped in migrated databases and migrated roles
// altered mean the target was used after the cut-over, and dropping it would lose that work.
//
// What is compared, and its limits:
//   - the cluster's next transaction ID: while it has not moved, nothing was written anywhere, and
//     nothing else needs to be looked at (exact, and free of the statistics' delays below);
//   - per table, pg_stat_user_tables' n_tup_ins/n_tup_upd/n_tup_del and pg_class.relfilenode (a
//     TRUNCATE or a rewrite gives a new one). The counters are the cumulative statistics: sessions
//     report them when they go idle (at most about a second later) or exit, so the baseline is
//     taken once two readings agree, and a check reads them a second after it found the target
//     written to; sessions still connected to a migrated database are reported (in use). A statistics reset (pg_stat_reset, a crash) is detected by pg_stat_database.stats_reset
//     or counters that went down, and reported as "cannot tell". With track_counts off they do
//     not move: also "cannot tell". A transaction still open when destroy runs is not seen (its
//     rows are not committed: dropping the database discards them, as any rollback would);
//   - per migrated database, its user objects (schemas, relations, columns, functions, types,
//     constraints, triggers, rules, extensions, large objects; temporary objects excluded): their count, highest
//     OID and a sum of hashes of their definitions. New objects are listed by name (OIDs only
//     grow); altered or dropped ones are reported as such, without names;
//   - per role the migration created or altered: hashes of its attributes, memberships (both
//     ways) and settings, and of its password hash when the target login may read pg_authid
//     (a superuser; otherwise a password change is not seen).

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/pgconn"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/pgver"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// DriftOptions configure CheckDrift.
type DriftOptions struct {
	Target *config.Server
	State  *state.State
	Plan   *plan.DestroyPlan
	// Settle is how long to wait for sessions to report their counters before reading them, when
	// the target was written to since the baseline (0: statsFlush).
	Settle time.Duration
}

// statsFlush is how long a session may keep its counters before it reports them: an idle
// session reports at most about a second after its last transaction (PGSTAT_MIN_INTERVAL on
// PostgreSQL 15+; PGSTAT_STAT_INTERVAL and the collector's file age before).
const statsFlush = 1200 * time.Millisecond

// CheckDrift compares the target with the baseline the last finished apply recorded, for what
// the destroy plan drops or reverts, and returns what changed since, one line each, addressed
// as in the plan ("" lines never). No baseline: the apply never finished (the target was not in
// use), nothing to compare, unless the state says it finished (a state written before baselines
// were recorded, or one that could not be recorded): then the one line says pgferry cannot tell.
func CheckDrift(ctx context.Context, opt DriftOptions) ([]string, error) {
	st, b := opt.State, opt.State.Baseline
	if len(opt.Plan.Steps) == 0 {
		return nil, nil
	}
	if b == nil {
		if st.Status == state.StatusSucceeded {
			when := ""
			if st.FinishedAt != nil {
				when = " at " + st.FinishedAt.UTC().Format(time.RFC3339)
			}
			return []string{fmt.Sprintf("apply finished%s, but the state holds no record of what it left on the target (it was applied by an older pgferry, or the record could not be taken): pgferry cannot tell whether the target was used since", when)}, nil
		}
		return nil, nil
	}
	var dbs, roles []string
	for _, s := range opt.Plan.Steps {
		c := s.Change
		switch {
		case c.Type == plan.ChangeDatabase && c.Op == plan.OpCreated && b.Databases[c.Name] != nil:
			dbs = append(dbs, c.Name)
		case (c.Type == plan.ChangeRole || c.Type == plan.ChangeRoleAttributes) && b.Roles[c.Name] != nil && !slices.Contains(roles, c.Name):
			roles = append(roles, c.Name)
		}
	}
	if len(dbs) == 0 && len(roles) == 0 {
		return nil, nil
	}
	conn, err := pgconn.Connect(ctx, opt.Target, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	xid, trackCounts, err := clusterPoint(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.Target.Label(), err)
	}
	if xid == b.XidNext {
		return nil, nil // no transaction has written anything on the target since
	}
	var sysid string
	if err := conn.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&sysid); err == nil &&
		st.Target.SystemIdentifier != "" && sysid != st.Target.SystemIdentifier {
		return nil, nil // another server: Destroy refuses it, saying so
	}
	var out []string
	for _, r := range roles {
		cur, err := readRole(ctx, conn, r)
		if err != nil {
			return nil, fmt.Errorf("%s: role %q: %w", opt.Target.Label(), r, err)
		}
		out = append(out, CompareRoleDrift(r, b.Roles[r], cur)...)
	}
	if len(dbs) > 0 {
		// The target was written to: let sessions that just ended or went idle report their counters
		// (once for all databases).
		settle := opt.Settle
		if settle == 0 {
			settle = statsFlush
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(settle):
		}
	}
	for _, db := range dbs {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
			return nil, fmt.Errorf("%s: %w", opt.Target.Label(), err)
		}
		if !exists {
			continue
		}
		lines, err := checkDatabase(ctx, opt.Target, db, b.Databases[db], b.TrackCounts && trackCounts)
		if err != nil {
			return nil, fmt.Errorf("%s: database %q: %w", opt.Target.Label(), db, err)
		}
		out = append(out, lines...)
	}
	return out, nil
}

func checkDatabase(ctx context.Context, target *config.Server, db string, d *state.DatabaseBaseline, trackCounts bool) ([]string, error) {
	conn, err := pgconn.Connect(ctx, target, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	count, _, hash, newer, err := readObjects(ctx, conn, d.MaxOID)
	if err != nil {
		return nil, err
	}
	var named []string
	rows, err := conn.Query(ctx, newObjectsQuery, d.MaxOID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var kind, name string
		if err := rows.Scan(&kind, &name); err != nil {
			rows.Close()
			return nil, err
		}
		named = append(named, kind+" "+name)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	reset, err := readStatsReset(ctx, conn)
	if err != nil {
		return nil, err
	}
	tables, err := readTables(ctx, conn)
	if err != nil {
		return nil, err
	}
	sessions, err := readSessions(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	cur := DatabaseNow{Objects: count, Hash: hash, Newer: newer, NewObjects: named, StatsReset: reset, Tables: tables, TrackCounts: trackCounts, Sessions: sessions,
		Collector: pgconn.ServerVersion(conn).Before(15)}
	return CompareDatabaseDrift(db, d, cur), nil
}

// readSessions describes the client sessions connected to database db, but this one.
func readSessions(ctx context.Context, conn *pgx.Conn, db string) ([]string, error) {
	var versionNum pgver.V
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum); err != nil {
		return nil, err
	}
	q := `SELECT coalesce(usename, '?'), coalesce(host(client_addr), 'a local socket'), coalesce(application_name, ''), coalesce(state, '')
FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`
	if versionNum.AtLeast(10) {
		q += " AND backend_type = 'client backend'"
	}
	rows, err := conn.Query(ctx, q+" ORDER BY backend_start", db)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var user, from, app, st string
		if err := rows.Scan(&user, &from, &app, &st); err != nil {
			rows.Close()
			return nil, err
		}
		s := fmt.Sprintf("%s from %s", user, from)
		if app != "" {
			s += fmt.Sprintf(" (%s)", app)
		}
		if st != "" {
			s += ", " + st
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// maxSessions bounds the sessions named per database.
const maxSessions = 5

// DatabaseNow is what CheckDrift read of a migrated database.
type DatabaseNow struct {
	// Sessions describe the client sessions connected to it (destroy would terminate them; what
	// they wrote last may not be counted yet: a session reports its counters when it exits, and
	// when idle only after a while, up to 10 s on PostgreSQL 15+ and at its next transaction before).
	Sessions      []string
	Objects, Hash int64
	// Newer counts the objects above the baseline's highest OID; NewObjects names them ("kind
	// name"), tables excepted.
	Newer       int64
	NewObjects  []string
	StatsReset  string
	Tables      map[string][4]int64
	TrackCounts bool
	// Collector: the server is before 15, whose statistics collector gives a database's entry a
	// stats_reset time when it creates it, up to half a second after the database's first use: a
	// baseline that read none then is no evidence of a reset since.
	Collector bool
}

// maxListed bounds the new objects listed per database.
const maxListed = 20

// CompareDatabaseDrift returns what changed in database db since the baseline d.
func CompareDatabaseDrift(db string, d *state.DatabaseBaseline, cur DatabaseNow) []string {
	var out []string
	addr := plan.DatabaseAddr(db)
	switch {
	case !cur.TrackCounts:
		out = append(out, fmt.Sprintf("%s: track_counts is off on the target, so pgferry cannot tell whether rows were written to its tables since apply finished", addr))
	case cur.StatsReset != d.StatsReset && !(cur.Collector && d.StatsReset == ""):
		out = append(out, fmt.Sprintf("%s: its statistics were reset since apply finished (pg_stat_reset or a crash, at %s), so pgferry cannot tell whether rows were written to its tables", addr, orWhat(cur.StatsReset, "an unknown time")))
	default:
		names := slices.Sorted(maps.Keys(cur.Tables))
		for _, k := range names {
			now := cur.Tables[k]
			taddr := addr + ".table[" + k + "]"
			was, ok := d.Tables[k]
			if !ok {
				line := taddr + ": created since apply finished"
				if now[1] > 0 {
					line += fmt.Sprintf(", %s inserted", english.Count(now[1], "row"))
				}
				out = append(out, line)
				continue
			}
			if now[0] != was[0] {
				out = append(out, taddr+": rewritten since apply finished (TRUNCATE, VACUUM FULL, CLUSTER, a table rewrite, or dropped and created again)")
				continue
			}
			if now[1] < was[1] || now[2] < was[2] || now[3] < was[3] {
				out = append(out, taddr+": its statistics were reset since apply finished (pg_stat_reset_single_table_counters or a crash), so pgferry cannot tell whether rows were written to it")
				continue
			}
			var w []string
			for i, verb := range []string{"inserted", "updated", "deleted"} {
				if n := now[i+1] - was[i+1]; n > 0 {
					w = append(w, fmt.Sprintf("%s %s", english.Count(n, "row"), verb))
				}
			}
			if len(w) > 0 {
				out = append(out, taddr+": "+strings.Join(w, ", ")+" since apply finished")
			}
		}
		for _, k := range slices.Sorted(maps.Keys(d.Tables)) {
			if _, ok := cur.Tables[k]; !ok {
				out = append(out, addr+".table["+k+"]: dropped since apply finished")
			}
		}
	}
	if n := len(cur.Sessions); n > 0 {
		shown := cur.Sessions[:min(n, maxSessions)]
		more := ""
		if n > maxSessions {
			more = fmt.Sprintf(", and %d more", n-maxSessions)
		}
		out = append(out, fmt.Sprintf("%s: %s connected (%s%s): it is in use, and what they wrote last may not be counted yet; destroy would terminate them",
			addr, english.Count(n, "session"), strings.Join(shown, "; "), more))
	}
	for i, n := range cur.NewObjects {
		if i == maxListed {
			out = append(out, fmt.Sprintf("%s: and %s created since apply finished", addr, english.Count(len(cur.NewObjects)-maxListed, "more object")))
			break
		}
		out = append(out, fmt.Sprintf("%s: %s created since apply finished", addr, n))
	}
	if cur.Newer > 0 && len(cur.NewObjects) == 0 && !slices.ContainsFunc(out, func(l string) bool { return strings.Contains(l, ": created since apply finished") }) {
		out = append(out, fmt.Sprintf("%s: objects created since apply finished (%s)", addr, english.Count(cur.Newer, "new catalog entry")))
	}
	if cur.Objects-cur.Newer != d.Objects || cur.Newer == 0 && cur.Hash != d.Hash {
		out = append(out, fmt.Sprintf("%s: objects were altered or dropped since apply finished (tables, columns, constraints, functions, owners or privileges)", addr))
	}
	return out
}

// CompareRoleDrift returns what changed in a migrated role since the baseline was; cur nil: dropped.
func CompareRoleDrift(name string, was, cur *state.RoleBaseline) []string {
	addr := plan.RoleAddr(name)
	if cur == nil {
		return []string{addr + ": dropped since apply finished"}
	}
	var parts []string
	if cur.Attributes != was.Attributes {
		parts = append(parts, "attributes")
	}
	if cur.Memberships != was.Memberships {
		parts = append(parts, "memberships")
	}
	if cur.Settings != was.Settings {
		parts = append(parts, "settings (ALTER ROLE ... SET)")
	}
	if was.Password != "" && cur.Password != "" && cur.Password != was.Password {
		parts = append(parts, "password")
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s: %s changed since apply finished", addr, joinAnd(parts))}
}

func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func orWhat(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
