package apply

// Baseline: what a finished apply left on the target, read once the migrated databases are quiet.
// drift.go says what is compared and its limits; CheckDrift compares against what this records.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
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
	b := newBaselineRead(target)
	defer b.close(ctx)
	return b.finish(ctx, st)
}

// baselineRead reads a baseline in two parts. A database's objects (and its statistics' reset
// time) are final once the run's last statement that may change them is done: ready starts
// reading them then, on a session of its own, while the run finishes (its ANALYZE, verification
// and other databases). What only the run's end fixes, the transaction ID, the roles and the
// tables' counters, finish reads once the run's sessions are closed, on those same sessions.
// On a database of many tables a fresh session spends more time planning and reading the catalog
// for the objects' query than the query itself takes, and connecting is most of a baseline's time
// on a small one: neither is left for after the run.
type baselineRead struct {
	target *config.Server
	mu     sync.Mutex
	dbs    map[string]*dbBaselineRead
}

// dbBaselineRead is one database's early part: done is closed once conn (nil on error) holds a
// session to it and d its objects and statistics' reset time.
type dbBaselineRead struct {
	done chan struct{}
	conn *pgx.Conn
	d    *state.DatabaseBaseline
	err  error
}

func newBaselineRead(target *config.Server) *baselineRead {
	return &baselineRead{target: target, dbs: map[string]*dbBaselineRead{}}
}

// ready starts reading database db's objects, unless that was started already: nothing that
// changes them is left to run in db.
func (b *baselineRead) ready(ctx context.Context, db string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dbs[db] != nil {
		return
	}
	r := &dbBaselineRead{done: make(chan struct{})}
	b.dbs[db] = r
	go func() {
		defer close(r.done)
		c, err := pgconn.Connect(ctx, b.target, db)
		if err != nil {
			r.err = err
			return
		}
		d := &state.DatabaseBaseline{}
		if d.Objects, d.MaxOID, d.Hash, _, err = readObjects(ctx, c, 0); err == nil {
			d.StatsReset, err = readStatsReset(ctx, c)
		}
		if err != nil {
			c.Close(context.WithoutCancel(ctx))
			r.err = fmt.Errorf("database %q: %w", db, err)
			return
		}
		r.conn, r.d = c, d
	}()
}

// take waits for db's early part; the session is the caller's to close from then on.
func (b *baselineRead) take(db string) (*pgx.Conn, *state.DatabaseBaseline, error) {
	b.mu.Lock()
	r := b.dbs[db]
	delete(b.dbs, db)
	b.mu.Unlock()
	<-r.done
	return r.conn, r.d, r.err
}

// close waits for the early parts not taken and closes their sessions.
func (b *baselineRead) close(ctx context.Context) {
	b.mu.Lock()
	dbs := b.dbs
	b.dbs = map[string]*dbBaselineRead{}
	b.mu.Unlock()
	for _, r := range dbs {
		if <-r.done; r.conn != nil {
			r.conn.Close(context.WithoutCancel(ctx))
		}
	}
}

// finish reads the rest of the baseline for the migrated databases and roles of st
// (BaselineScope), and the early part of the databases not read early.
func (b *baselineRead) finish(ctx context.Context, st *state.State) (*state.Baseline, error) {
	target := b.target
	dbs, roles := BaselineScope(st)
	// The databases not read early are read now; one that does not exist fails to connect, and
	// is left out below.
	for _, db := range dbs {
		b.ready(ctx, db)
	}
	bl := &state.Baseline{At: time.Now().UTC()}
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close(context.WithoutCancel(ctx))
		}
	}()
	failed := map[string]error{}
	var conn *pgx.Conn // what is the cluster's is read on the first database's session, connDB's
	var connDB string
	for _, db := range dbs {
		c, d, err := b.take(db)
		if err != nil {
			failed[db] = err
			continue
		}
		if bl.Databases == nil {
			bl.Databases = map[string]*state.DatabaseBaseline{}
		}
		conns[db], bl.Databases[db] = c, d
		if conn == nil {
			conn, connDB = c, db
		}
	}
	if conn == nil { // no migrated database: the maintenance database's
		c, err := pgconn.Connect(ctx, target, "")
		if err != nil {
			return nil, err
		}
		defer c.Close(context.WithoutCancel(ctx))
		conn = c
	}
	// The transaction ID before the counters: what is written after it moves it. From PostgreSQL
	// 15, with the counters of connDB and whether the run's sessions are gone (then they are final),
	// in one round trip.
	var err error
	var final map[string]map[string][4]int64
	if connDB != "" && pgconn.ServerVersion(conn).AtLeast(15) {
		var others int
		var t map[string][4]int64
		if bl.XidNext, bl.TrackCounts, others, t, err = pointAndReading(ctx, conn, slices.Collect(maps.Keys(conns)), ownPIDs(conns)); err == nil && others == 0 {
			final = map[string]map[string][4]int64{connDB: t}
		}
	} else {
		bl.XidNext, bl.TrackCounts, err = clusterPoint(ctx, conn)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target.Label(), err)
	}
	if len(roles) > 0 {
		bl.Roles = map[string]*state.RoleBaseline{}
		for _, r := range roles {
			rb, err := readRole(ctx, conn, r)
			if err != nil {
				return nil, fmt.Errorf("%s: role %q: %w", target.Label(), r, err)
			}
			if rb != nil {
				bl.Roles[r] = rb
			}
		}
	}
	if len(failed) > 0 {
		// A database that is not there (dropped since) has no baseline; one that is, but could not
		// be read, fails the baseline.
		var existing []string
		if err := conn.QueryRow(ctx, "SELECT coalesce(array_agg(datname::text ORDER BY datname), '{}') FROM pg_catalog.pg_database WHERE datname = ANY($1)", slices.Collect(maps.Keys(failed))).Scan(&existing); err != nil {
			return nil, fmt.Errorf("%s: %w", target.Label(), err)
		}
		if len(existing) > 0 {
			return nil, fmt.Errorf("%s: %w", target.Label(), failed[existing[0]])
		}
	}
	if len(conns) == 0 {
		return bl, nil
	}
	tables, err := settledCounters(ctx, conn, conns, final)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target.Label(), err)
	}
	for db, t := range tables {
		bl.Databases[db].Tables = t
	}
	return bl, nil
}

// settledCounters reads the counters of the tables of each database on its session in conns once
// apply's last writes are counted. They may still be on their way (a session reports them when it
// exits or goes idle): read until two readings agree. From PostgreSQL 15 a session publishes its
// counters as it exits, before it leaves pg_stat_activity: once no other client session is
// connected to the databases, one reading is final. conn is a session of the cluster. final holds
// the counters of databases read once the sessions were gone (PostgreSQL 15 and later), nil
// when none were.
func settledCounters(ctx context.Context, conn *pgx.Conn, conns map[string]*pgx.Conn, final map[string]map[string][4]int64) (map[string]map[string][4]int64, error) {
	if final != nil {
		for db, c := range conns {
			if final[db] != nil {
				continue
			}
			t, err := readTables(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("database %q: %w", db, err)
			}
			final[db] = t
		}
		return final, nil
	}
	versionNum := pgconn.ServerVersion(conn)
	pause := 200 * time.Millisecond
	if versionNum.Before(15) {
		pause = 600 * time.Millisecond // the statistics collector's file may be 500 ms old
	}
	deadline := time.Now().Add(statsSettle)
	var prev map[string]map[string][4]int64
	if versionNum.AtLeast(15) {
		gone, err := sessionsGone(ctx, conn, slices.Collect(maps.Keys(conns)), ownPIDs(conns))
		if err != nil {
			return nil, err
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
				return nil, fmt.Errorf("database %q: %w", db, err)
			}
			cur[db] = t
		}
		if prev != nil && maps.EqualFunc(prev, cur, func(a, b map[string][4]int64) bool { return maps.Equal(a, b) }) || time.Now().After(deadline) {
			return cur, nil
		}
		prev = cur
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// sessionsGoneWait bounds how long RecordBaseline waits for the sessions of the databases to end.
const sessionsGoneWait = time.Second

// sessionsGone waits until no client session other than own is connected to dbs (apply's
// sessions, just closed, exit within milliseconds), and reports whether that happened within
// sessionsGoneWait: false when someone else works in a migrated database already.
func sessionsGone(ctx context.Context, conn *pgx.Conn, dbs []string, own []int64) (bool, error) {
	deadline := time.Now().Add(sessionsGoneWait)
	for {
		var n int
		err := conn.QueryRow(ctx, othersQuery, dbs, own).Scan(&n)
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

// othersQuery counts the client sessions connected to databases $1 but this one and $2.
const othersQuery = `SELECT count(*) FROM pg_catalog.pg_stat_activity
WHERE datname = ANY($1) AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid <> ALL($2::int8[])`

// ownPIDs are the server processes of conns.
func ownPIDs(conns map[string]*pgx.Conn) []int64 {
	var pids []int64
	for _, c := range conns {
		pids = append(pids, int64(c.PgConn().PID()))
	}
	return pids
}

// pointAndReading reads in one round trip on conn what clusterPoint does, how many client sessions
// but own are connected to dbs (othersQuery), and the counters of conn's database (readTables),
// in this order: in one transaction, whose statistics are read when a statement first looks at
// them. From PostgreSQL 15, a session publishes its counters before it leaves pg_stat_activity:
// with no other session left, the counters read after are final.
func pointAndReading(ctx context.Context, conn *pgx.Conn, dbs []string, own []int64) (xid int64, trackCounts bool, others int, tables map[string][4]int64, err error) {
	b := &pgx.Batch{}
	b.Queue("SELECT txid_snapshot_xmax(txid_current_snapshot()), current_setting('track_counts') = 'on', ("+othersQuery+")", dbs, own)
	b.Queue(tablesQuery)
	br := conn.SendBatch(ctx, b)
	if err = br.QueryRow().Scan(&xid, &trackCounts, &others); err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			tables, err = scanTables(rows)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return xid, trackCounts, others, tables, err
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
	// A new reading: a session's snapshot of the statistics lasts until the end of its transaction,
	// and each query here is one.
	rows, err := conn.Query(ctx, tablesQuery)
	if err != nil {
		return nil, err
	}
	return scanTables(rows)
}

// scanTables reads the rows of tablesQuery.
func scanTables(rows pgx.Rows) (map[string][4]int64, error) {
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

// runBaseline is the baseline a run reads as it finishes (Options.Baseline): a database's early
// part starts once every action of the run in it that may change its objects succeeded, all but
// its ANALYZE and verification (which change no object, and come last).
type runBaseline struct {
	*baselineRead
	// ctx is the run's: an early read outlives the action (and the worker's context) that made
	// its database ready, and is cut short only by what ends the run (Ctrl-C).
	ctx     context.Context
	mu      sync.Mutex
	pending map[string]map[string]bool // database → addresses of such actions not succeeded yet
	// start is baselineRead.ready (tests watch it).
	start func(ctx context.Context, db string)
}

// newRunBaseline tracks the actions of plan actions the run does (those st does not hold applied).
func newRunBaseline(ctx context.Context, target *config.Server, actions []*plan.Action, st *state.State) *runBaseline {
	b := &runBaseline{baselineRead: newBaselineRead(target), ctx: ctx, pending: map[string]map[string]bool{}}
	b.start = b.ready
	for _, a := range actions {
		if a.Database == "" || a.Type == plan.TypeAnalyze || a.Type == plan.TypeVerify {
			continue
		}
		if sa := st.Action(a.Address); sa != nil && sa.Status == state.ActionApplied {
			continue
		}
		if b.pending[a.Database] == nil {
			b.pending[a.Database] = map[string]bool{}
		}
		b.pending[a.Database][a.Address] = true
	}
	return b
}

// finished records that a succeeded. A set, not a count: a database started again (a lost
// snapshot) runs some succeeded actions again. The read it may start runs under the run's
// context, not a's.
func (b *runBaseline) finished(a *plan.Action) {
	if b == nil || a.Database == "" {
		return
	}
	b.mu.Lock()
	p := b.pending[a.Database]
	if !p[a.Address] {
		b.mu.Unlock()
		return
	}
	delete(p, a.Address)
	ready := len(p) == 0
	b.mu.Unlock()
	if ready {
		b.start(b.ctx, a.Database)
	}
}
