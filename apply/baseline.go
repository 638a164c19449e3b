package apply

// Baseline: what a finished apply left on the target, read once the migrated databases are quiet.
// drift.go says what is compared and its limits; CheckDrift compares against what this records.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgver"
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
