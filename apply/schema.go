package apply

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pgferry/pgferry/internal/pgio"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/plan"
)

// Streaming pre-data.
//
// Into a database this migration created, pre-data is not restored in one transaction by
// pg_restore: its statements (pg_restore's script of it, one chunk per archive entry) run in
// order on one connection, each chunk committed (sent ahead of the replies: see runPreData), and
// a table's copy may start as soon as the last statement that alters it ran, while the rest of
// pre-data (other tables, views, functions, comments, privileges) is still being created. The
// copies that start early are not recorded as applied, and nothing that depends on them runs,
// until the schema action itself is recorded applied: a run that stops in the middle of pre-data
// leaves a database that the next run drops and creates again (it is this migration's), and every
// early copy is done again with it.
//
// Into a database that existed before the migration (empty), pre-data stays one transaction: a
// failure must leave it as empty as it was.

// alterTable finds the tables pg_dump's statements alter, as pg_dump prints their names.
var alterTable = regexp.MustCompile(`(?m)^ALTER TABLE (?:ONLY )?((?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\.(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*))`)

// unquoteQualified turns schema.name as PostgreSQL prints it into the key "schema.name".
func unquoteQualified(s string) string {
	var parts []string
	for s != "" {
		var p string
		if strings.HasPrefix(s, `"`) {
			i := 1
			for i < len(s) {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						i += 2
						continue
					}
					break
				}
				i++
			}
			p = strings.ReplaceAll(s[1:min(i, len(s))], `""`, `"`)
			s = s[min(i+1, len(s)):]
		} else {
			j := strings.IndexByte(s, '.')
			if j < 0 {
				j = len(s)
			}
			p, s = s[:j], s[j:]
		}
		parts = append(parts, p)
		s = strings.TrimPrefix(s, ".")
	}
	return strings.Join(parts, ".")
}

// tableReadyAfter maps each table (key "schema.name") to the index of the last pre-data chunk
// it must wait for: the one creating it or the last one altering it (a column default, an identity,
// an owner): those take a lock a running COPY would make them wait for.
func (d *dbRun) tableReadyAfter() map[string]int {
	byOID := map[uint32]string{}
	for k := range d.src.Tables {
		byOID[d.src.Tables[k].OID] = d.src.Tables[k].Key()
	}
	entries := map[int]uint32{} // dump ID → table OID, for TABLE entries
	for id, e := range d.byID {
		if e.Desc == "TABLE" && e.TableOID == 1259 {
			entries[id] = e.OID
		}
	}
	ready := map[string]int{}
	for k, c := range d.preChunks {
		if oid, ok := entries[c.DumpID]; ok {
			if key, ok := byOID[oid]; ok {
				ready[key] = max(ready[key], k)
			}
		}
		for _, m := range alterTable.FindAllStringSubmatch(c.SQL, -1) {
			key := unquoteQualified(m[1])
			ready[key] = max(ready[key], k)
		}
	}
	return ready
}

// earlyCopies lists the actions of the graph that may start while pre-data is streamed, with the
// chunk each waits for, in chunk order: whole-table copies of plain tables whose only dependency
// in this run is the schema action.
func (d *dbRun) earlyCopies(actions []*plan.Action, index map[string]int) (schema int, early []earlyCopy) {
	schema = -1
	for i, a := range actions {
		if a.Type == plan.TypeSchema {
			schema = i
		}
	}
	if schema < 0 || !d.streamed {
		return -1, nil
	}
	ready := d.tableReadyAfter()
	for i, a := range actions {
		if a.Type != plan.TypeTable || a.Parts > 0 {
			continue
		}
		t := d.table(a.Schema, a.Name)
		if t == nil || t.Kind != "r" || t.IsPartition {
			continue
		}
		k, ok := ready[t.Key()]
		if !ok {
			continue
		}
		only := len(a.DependsOn) > 0
		for _, dep := range a.DependsOn {
			if j, in := index[dep]; in && j != schema {
				only = false
			}
		}
		if only {
			early = append(early, earlyCopy{action: i, chunk: k})
		}
	}
	sort.SliceStable(early, func(x, y int) bool { return early[x].chunk < early[y].chunk })
	return schema, early
}

type earlyCopy struct{ action, chunk int }

// streamSchema runs pre-data chunk by chunk (see above), telling progress after each.
func (d *dbRun) streamSchema(ctx context.Context) error {
	c, err := d.openPreData(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	err = d.runPreData(ctx, c, func(k int) {
		d.freshSchema.Store(true) // before any early copy can start
		d.preData.Set(k + 1)
		// Streamed, a chunk that ran is never sent again in this attempt at the database (it
		// is not retried; a new attempt dumps the schema again): its text goes at once, not at
		// the end of pre-data, which runs beside the copies for most of a large run.
		d.preChunks[k].SQL = ""
	})
	if err == nil {
		d.releasePreData()
	}
	return err
}

// preDataWindow is how many bytes of pre-data runPreData sends ahead of the replies it has read:
// at 20 ms a round trip, the server creates a few dozen objects (a few dozen kilobytes of script)
// in the time one round trip takes, and the replies to 64 KiB of statements (a few bytes each)
// always fit in the sockets' buffers.
const preDataWindow = 64 << 10

// runPreData runs pg_restore's pre-data script on c: its session settings, then each chunk, calling
// ran (when not nil) as soon as chunk k has run. Each chunk is its own Query message, as it was when
// they were sent one at a time (outside a transaction block, each chunk is its own transaction,
// committed once its reply is read), but they are pipelined (execPipelined): sent up to
// preDataWindow bytes ahead of the replies, so that pre-data costs a round trip per window instead
// of one per archive entry. ran(k) still follows chunk k's own reply, so a table's copy starts as
// soon as the chunks it waits for committed, wherever they fall in what was sent. On an error, c
// has unread replies: the caller closes it.
func (d *dbRun) runPreData(ctx context.Context, c *pgx.Conn, ran func(k int)) error {
	msgs := make([]string, 0, len(d.preChunks)+1)
	msgs = append(msgs, d.prePreamble)
	for _, ch := range d.preChunks {
		msgs = append(msgs, ch.SQL)
	}
	k, failed, err := execPipelined(ctx, c, msgs, preDataWindow, func(k int) {
		msgs[k] = "" // never read again (execPipelined): only the chunk keeps its text
		if k > 0 && ran != nil {
			ran(k - 1)
		}
	})
	switch {
	case err == nil:
		return nil
	case k == 0:
		return newStatementError("applying", "pg_restore's session settings", d.prePreamble, failed, err)
	}
	return chunkError(d.preChunks[k-1], failed, err)
}

// releasePreData lets go of the pre-data chunks' texts once pre-data ran (at 20,000 tables, some
// ten megabytes held for the rest of the run otherwise). Their dump IDs and dependencies stay: the
// graph was built from them, and nothing runs them again in this attempt at the database (the
// schema action is recorded applied, or a new attempt dumps the schema again).
func (d *dbRun) releasePreData() {
	for k := range d.preChunks {
		d.preChunks[k].SQL = ""
	}
}

// schema restores pre-data in one transaction: all of it or nothing, without the extensions'
// entries (the extension actions ran them). A database this migration created that is not empty (a
// pg_restore of an earlier, killed run that got further than the state says) is recreated first.
// It is pg_restore's own pre-data script, as the streamed path runs it: without the entries the
// extension actions ran or the table filters dropped, with session settings adapted to the target
// (ForServer), in one transaction (what pg_restore --single-transaction does).
func (d *dbRun) schema(ctx context.Context) error {
	c, err := d.openPreData(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	if err := d.runPreData(ctx, c, nil); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("restoring the schema: %w", pgio.DescribePgError(err))
	}
	d.freshSchema.Store(true)
	d.releasePreData()
	return nil
}

// userRelations counts the relations of a database that are not the system's. What the extension
// actions created (an extension's tables, sequences and their indexes) does not count: it is there
// before pre-data by design.
const userRelations = `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.deptype = 'e'
			AND dep.objid IN (c.oid, (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = c.oid)))`

// openPreData opens the connection pre-data runs on, once the target database is empty
// (ensureEmpty) and has every extension of the source's (ensureExtensions): on one connection and
// in one round trip when, as normally, the database is empty and the extension actions created
// them all; ensureEmpty and ensureExtensions run only when there is something to do.
func (d *dbRun) openPreData(ctx context.Context) (*pgx.Conn, error) {
	c, err := openTargetConn(ctx, d)
	if err != nil {
		return nil, err
	}
	var n int
	var have []string
	err = c.QueryRow(ctx, "SELECT ("+userRelations+"), ARRAY(SELECT extname::text FROM pg_catalog.pg_extension)").Scan(&n, &have)
	if err == nil && n > 0 {
		c.Close(context.WithoutCancel(ctx))
		if err := d.recreateNotEmpty(ctx, n); err != nil {
			return nil, err
		}
		if c, err = openTargetConn(ctx, d); err != nil {
			return nil, err
		}
		have = nil // a new database: ensureExtensions looks
	}
	if err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if lacksExtension(d.src.Extensions, have) {
		if err := d.ensureExtensions(ctx); err != nil {
			c.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("restoring the schema: %w", err)
		}
	}
	return c, nil
}

// lacksExtension reports whether one of the source's extensions is not among those the target has
// (nil: not known).
func lacksExtension(src []catalog.Extension, have []string) bool {
	if have == nil {
		return true
	}
	has := map[string]bool{}
	for _, n := range have {
		has[n] = true
	}
	for _, e := range src {
		if !has[e.Name] {
			return true
		}
	}
	return false
}

func (d *dbRun) ensureEmpty(ctx context.Context) error {
	tgt, err := pgconn.Connect(ctx, d.r.m.Target, d.db)
	if err != nil {
		return err
	}
	var n int
	err = tgt.QueryRow(ctx, userRelations).Scan(&n)
	tgt.Close(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	return d.recreateNotEmpty(ctx, n)
}

// recreateNotEmpty recreates the target database, found holding n relations (userRelations), when
// this migration created it; refuses when another did; does nothing when n is 0.
func (d *dbRun) recreateNotEmpty(ctx context.Context, n int) error {
	if n == 0 {
		return nil
	}
	if !d.r.createdDatabase(d.db) {
		return fmt.Errorf("the target database %q is not empty (%d relations) and was not created by this migration; drop it or set overwrite_databases = true", d.db, n)
	}
	d.r.emit(Event{Type: EventMessage, Message: fmt.Sprintf("Database %q holds objects of an interrupted earlier run: recreating it", d.db)})
	return d.createDatabase(ctx, true)
}
