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

// statsSettle bounds how long RecordBaseline waits for the statistics to settle.
const statsSettle = 10 * time.Second

// BaselineScope returns the databases and roles a baseline covers: the databases the migration
// created (destroy drops them) and the roles it created or altered (destroy drops or reverts them).
func BaselineScope(st *state.State) (dbs, roles []string) {
	seenDB, seenRole := map[string]bool{}, map[string]bool{}
	for _, c := range st.Created {
		switch {
		case c.Type == plan.ChangeDatabase && c.Op == plan.OpCreated && !seenDB[c.Name]:
			seenDB[c.Name] = true
			dbs = append(dbs, c.Name)
		case (c.Type == plan.ChangeRole && c.Op == plan.OpCreated || c.Type == plan.ChangeRoleAttributes && c.Op == plan.OpAltered) && !seenRole[c.Name]:
			seenRole[c.Name] = true
			roles = append(roles, c.Name)
		}
	}
	return dbs, roles
}

// RecordBaseline reads what apply left on the target, for the migrated databases and roles of
// st (BaselineScope). Call it once apply's sessions are closed.
func RecordBaseline(ctx context.Context, target *config.Server, st *state.State) (*state.Baseline, error) {
	dbs, roles := BaselineScope(st)
	// The databases' sessions are opened while the maintenance database's is: connecting is most
	// of a baseline's time on a small database.
	early := dialAll(ctx, target, dbs)
	defer early.closeUnused(ctx)
	conn, err := pgconn.Connect(ctx, target, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	b := &state.Baseline{At: time.Now().UTC()}
	// The transaction ID first: what is written after it moves it.
	if b.XidNext, b.TrackCounts, err = clusterPoint(ctx, conn); err != nil {
		return nil, fmt.Errorf("%s: %w", target.Label(), err)
	}
	if len(roles) > 0 {
		b.Roles = map[string]*state.RoleBaseline{}
		for _, r := range roles {
			rb, err := readRole(ctx, conn, r)
			if err != nil {
				return nil, fmt.Errorf("%s: role %q: %w", target.Label(), r, err)
			}
			if rb != nil {
				b.Roles[r] = rb
			}
		}
	}
	if len(dbs) == 0 {
		return b, nil
	}
	var versionNum pgver.V
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum); err != nil {
		return nil, fmt.Errorf("%s: %w", target.Label(), err)
	}
	b.Databases = map[string]*state.DatabaseBaseline{}
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close(context.WithoutCancel(ctx))
		}
	}()
	for _, db := range dbs {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
			return nil, fmt.Errorf("%s: %w", target.Label(), err)
		}
		if !exists {
			continue
		}
		c, err := early.take(db)
		if err != nil {
			return nil, err
		}
		conns[db] = c
		d := &state.DatabaseBaseline{}
		if d.Objects, d.MaxOID, d.Hash, _, err = readObjects(ctx, c, 0); err == nil {
			d.StatsReset, err = readStatsReset(ctx, c)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: database %q: %w", target.Label(), db, err)
		}
		b.Databases[db] = d
	}
	// The counters of apply's last writes may still be on their way (a session reports them when it
	// exits or goes idle): read until two readings agree. From PostgreSQL 15 a session publishes its
	// counters as it exits, before it leaves pg_stat_activity: once no other client session is
	// connected to the databases, one reading is final.
	pause := 200 * time.Millisecond
	if versionNum.Before(15) {
		pause = 600 * time.Millisecond // the statistics collector's file may be 500 ms old
	}
	deadline := time.Now().Add(statsSettle)
	var prev map[string]map[string][4]int64
	if versionNum.AtLeast(15) {
		var own []uint32
		for _, c := range conns {
			own = append(own, c.PgConn().PID())
		}
		gone, err := sessionsGone(ctx, conn, slices.Collect(maps.Keys(conns)), own)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target.Label(), err)
		}
		if gone {
			deadline = time.Now() // the first reading is taken
		}
	}
	for {
		cur := map[string]map[string][4]int64{}
		for db, c := range conns {
			t, err := readTables(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("%s: database %q: %w", target.Label(), db, err)
			}
			cur[db] = t
		}
		if prev != nil && maps.EqualFunc(prev, cur, func(a, b map[string][4]int64) bool { return maps.Equal(a, b) }) || time.Now().After(deadline) {
			for db, t := range cur {
				b.Databases[db].Tables = t
			}
			return b, nil
		}
		prev = cur
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// dialing is a session to each of some databases, opened in the background (dialAll).
type dialing map[string]chan dialed

type dialed struct {
	c   *pgx.Conn
	err error
}

func dialAll(ctx context.Context, target *config.Server, dbs []string) dialing {
	d := dialing{}
	for _, db := range dbs {
		ch := make(chan dialed, 1)
		d[db] = ch
		go func() {
			c, err := pgconn.Connect(ctx, target, db)
			ch <- dialed{c, err}
		}()
	}
	return d
}

// take waits for db's session; the caller closes it.
func (d dialing) take(db string) (*pgx.Conn, error) {
	r := <-d[db]
	delete(d, db)
	return r.c, r.err
}

// closeUnused waits for the sessions not taken and closes them.
func (d dialing) closeUnused(ctx context.Context) {
	for db, ch := range d {
		if r := <-ch; r.err == nil {
			r.c.Close(context.WithoutCancel(ctx))
		}
		delete(d, db)
	}
}

// sessionsGoneWait bounds how long RecordBaseline waits for the sessions of the databases to end.
const sessionsGoneWait = time.Second

// sessionsGone waits until no client session other than own is connected to dbs (apply's
// sessions, just closed, exit within milliseconds), and reports whether that happened within
// sessionsGoneWait: false when someone else works in a migrated database already.
func sessionsGone(ctx context.Context, conn *pgx.Conn, dbs []string, own []uint32) (bool, error) {
	pids := make([]int64, len(own))
	for i, p := range own {
		pids[i] = int64(p)
	}
	deadline := time.Now().Add(sessionsGoneWait)
	for {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_stat_activity
WHERE datname = ANY($1) AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid <> ALL($2::int8[])`, dbs, pids).Scan(&n)
		if err != nil || n == 0 {
			return err == nil, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// clusterPoint returns the cluster's next transaction ID (no ID is taken for it) and whether
// track_counts is on.
func clusterPoint(ctx context.Context, conn *pgx.Conn) (xid int64, trackCounts bool, err error) {
	err = conn.QueryRow(ctx, "SELECT txid_snapshot_xmax(txid_current_snapshot()), current_setting('track_counts') = 'on'").Scan(&xid, &trackCounts)
	return xid, trackCounts, err
}

const roleQuery = `
SELECT substr(md5(concat_ws(' ', r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
         r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil)), 1, 16),
       substr(md5(coalesce((SELECT string_agg(to_json(a)::text, ',' ORDER BY a.roleid, a.member, a.grantor)
         FROM pg_auth_members a WHERE a.roleid = r.oid OR a.member = r.oid), '')), 1, 16),
       substr(md5(coalesce((SELECT string_agg(coalesce(s.setdatabase::text, '') || ':' || array_to_string(s.setconfig, ','), ';' ORDER BY s.setdatabase)
         FROM pg_db_role_setting s WHERE s.setrole = r.oid), '')), 1, 16),
       has_table_privilege('pg_catalog.pg_authid', 'SELECT')
FROM pg_roles r WHERE r.rolname = $1`

// readRole returns the hashes of a role's parts, or nil when it does not exist.
func readRole(ctx context.Context, conn *pgx.Conn, name string) (*state.RoleBaseline, error) {
	rb := &state.RoleBaseline{}
	var authid bool
	err := conn.QueryRow(ctx, roleQuery, name).Scan(&rb.Attributes, &rb.Memberships, &rb.Settings, &authid)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if authid {
		// A hash of the password's hash: it tells a change, and nothing about the password.
		err = conn.QueryRow(ctx, "SELECT substr(md5('pgferry:' || coalesce(rolpassword, '')), 1, 16) FROM pg_authid WHERE rolname = $1", name).Scan(&rb.Password)
		if err != nil && err != pgx.ErrNoRows {
			return nil, err
		}
	}
	return rb, nil
}

// objectsQuery counts a database's user objects (OID 16384 and up, temporary ones excluded),
// returns their highest OID and a sum of hashes of their definitions (only what DDL, GRANT or
// ALTER OWNER change: never what ANALYZE or VACUUM update), and counts those above $1.
const objectsQuery = `
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname !~ '^pg_(toast_)?temp_'),
rel AS (SELECT oid, relname, relnamespace, relkind, relowner, relacl, reloptions FROM pg_class WHERE oid >= 16384 AND relnamespace IN (SELECT oid FROM ns)),
o(id, def) AS (
  SELECT oid, concat_ws(' ', 'n', nspname, nspowner, nspacl) FROM pg_namespace WHERE oid >= 16384 AND oid IN (SELECT oid FROM ns)
  UNION ALL SELECT oid, concat_ws(' ', 'c', relname, relnamespace, relkind, relowner, relacl, reloptions) FROM rel
  UNION ALL SELECT attrelid, concat_ws(' ', 'a', attrelid, attnum, attname, atttypid, atttypmod, attnotnull, atthasdef, attisdropped, attacl)
    FROM pg_attribute WHERE attnum > 0 AND attrelid IN (SELECT oid FROM rel)
  UNION ALL SELECT oid, concat_ws(' ', 'p', proname, pronamespace, proowner, proargtypes, prorettype, md5(prosrc), proacl)
    FROM pg_proc WHERE oid >= 16384 AND pronamespace IN (SELECT oid FROM ns)
  UNION ALL SELECT oid, concat_ws(' ', 't', typname, typnamespace, typowner) FROM pg_type WHERE oid >= 16384 AND typnamespace IN (SELECT oid FROM ns)
  UNION ALL SELECT oid, concat_ws(' ', 'k', conname, connamespace, conrelid, contype, convalidated)
    FROM pg_constraint WHERE oid >= 16384 AND connamespace IN (SELECT oid FROM ns)
  UNION ALL SELECT oid, concat_ws(' ', 'g', tgname, tgrelid, tgenabled, tgfoid) FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rel)
  UNION ALL SELECT oid, concat_ws(' ', 'r', rulename, ev_class, md5(ev_action::text)) FROM pg_rewrite WHERE ev_class IN (SELECT oid FROM rel)
  UNION ALL SELECT oid, concat_ws(' ', 'e', extname, extversion, extowner) FROM pg_extension WHERE oid >= 16384
  UNION ALL SELECT oid, concat_ws(' ', 'l', lomowner, lomacl) FROM pg_largeobject_metadata
)
SELECT count(*), coalesce(max(id::int8), 0), coalesce(sum(hashtext(def)::int8), 0)::int8,
       count(*) FILTER (WHERE id::int8 > $1::int8)
FROM o`

func readObjects(ctx context.Context, conn *pgx.Conn, above int64) (count, maxOID, hash, newer int64, err error) {
	err = conn.QueryRow(ctx, objectsQuery, above).Scan(&count, &maxOID, &hash, &newer)
	return
}

// newObjectsQuery names the objects above OID $1, except tables (their counters report them),
// toast tables, and the indexes, constraints and triggers of new tables.
const newObjectsQuery = `
WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname !~ '^pg_(toast_)?temp_' AND nspname <> 'pg_toast')
SELECT kind, name FROM (
  SELECT 'schema' AS kind, quote_ident(nspname) AS name, oid::int8 AS id FROM ns WHERE oid::int8 > $1::int8
  UNION ALL SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index'
      WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type' ELSE 'relation' END, c.oid::regclass::text, c.oid::int8
    FROM pg_class c WHERE c.oid::int8 > $1::int8 AND c.relkind NOT IN ('r', 'p', 'm', 't') AND c.relnamespace IN (SELECT oid FROM ns)
      AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indexrelid = c.oid AND x.indrelid::int8 > $1::int8)
  UNION ALL SELECT 'function', p.oid::regprocedure::text, p.oid::int8 FROM pg_proc p
    WHERE p.oid::int8 > $1::int8 AND p.pronamespace IN (SELECT oid FROM ns)
  UNION ALL SELECT 'type', format_type(t.oid, NULL), t.oid::int8 FROM pg_type t
    WHERE t.oid::int8 > $1::int8 AND t.typrelid = 0 AND t.typnamespace IN (SELECT oid FROM ns)
      AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL SELECT 'constraint', quote_ident(k.conname) || ' on ' || k.conrelid::regclass::text, k.oid::int8 FROM pg_constraint k
    WHERE k.oid::int8 > $1::int8 AND k.conrelid <> 0 AND k.conrelid::int8 <= $1::int8 AND k.connamespace IN (SELECT oid FROM ns)
  UNION ALL SELECT 'trigger', quote_ident(g.tgname) || ' on ' || g.tgrelid::regclass::text, g.oid::int8 FROM pg_trigger g
    WHERE g.oid::int8 > $1::int8 AND NOT g.tgisinternal AND g.tgrelid::int8 <= $1::int8
  UNION ALL SELECT 'rule', quote_ident(r.rulename) || ' on ' || r.ev_class::regclass::text, r.oid::int8 FROM pg_rewrite r
    WHERE r.oid::int8 > $1::int8 AND r.ev_class::int8 <= $1::int8 AND r.ev_class IN (SELECT oid FROM pg_class WHERE relnamespace IN (SELECT oid FROM ns))
  UNION ALL SELECT 'extension', quote_ident(extname), oid::int8 FROM pg_extension WHERE oid::int8 > $1::int8
  UNION ALL SELECT 'large object', oid::text, oid::int8 FROM pg_largeobject_metadata WHERE oid::int8 > $1::int8
) o ORDER BY id`

// tablesQuery reads the counters of a database's user tables (temporary ones excluded).
const tablesQuery = `
SELECT s.schemaname, s.relname, c.relfilenode::int8, s.n_tup_ins, s.n_tup_upd, s.n_tup_del
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname !~ '^pg_(toast_)?temp_'`

func readTables(ctx context.Context, conn *pgx.Conn) (map[string][4]int64, error) {
	// A new reading, not this session's snapshot of the statistics.
	if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, tablesQuery)
	if err != nil {
		return nil, err
	}
	t := map[string][4]int64{}
	for rows.Next() {
		var schema, name string
		var v [4]int64
		if err := rows.Scan(&schema, &name, &v[0], &v[1], &v[2], &v[3]); err != nil {
			rows.Close()
			return nil, err
		}
		t[baselineTableKey(schema, name)] = v
	}
	return t, rows.Err()
}

// baselineTableKey is how a table is named in the baseline: "schema"."name", as in its address.
func baselineTableKey(schema, name string) string { return fmt.Sprintf("%q.%q", schema, name) }

func readStatsReset(ctx context.Context, conn *pgx.Conn) (string, error) {
	var t *time.Time
	if err := conn.QueryRow(ctx, "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()").Scan(&t); err != nil && err != pgx.ErrNoRows {
		return "", err
	}
	if t == nil {
		return "", nil
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

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
