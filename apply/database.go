package apply

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// dbRun holds what one database's actions share.
type dbRun struct {
	r  *Runner
	db string
	*sourceDump
	used   []bool                      // by chunk index: run by an index or constraint action (usedChunks)
	src    *catalog.Database           // the source catalog, read inside the snapshot (runCatalog)
	tables map[srcTable]*catalog.Table // by schema and name (table)
	// barrier is the target connection confirmDurable commits on (the flusher's only), and
	// targetStart when the target's server started, read as the graph began.
	barrier     *pgx.Conn
	targetStart time.Time
	// barrierByLSN: the target does not let this login emit a logical message, and confirmDurable
	// waits for the WAL writer instead.
	barrierByLSN bool
	// freshSchema is set once this run restored pre-data into an empty database: no index or
	// constraint of an earlier run can be in it.
	freshSchema atomic.Bool
	// lane analyzes tables as they are finished (nil: none).
	lane *analyzeLane
	// streamed: pre-data is streamed into a database this migration created (see schema.go),
	// decided once the database action ran.
	streamed bool
	// preData is how many pre-data chunks streamSchema ran so far: copies may start early (sched).
	preData *sched.Progress
}

// srcTable is a table's schema and name: the catalog's own strings (an address per table, built to
// look it up, would be held for the whole run).
type srcTable struct{ schema, name string }

// table is the source table of that schema and name, or nil.
func (d *dbRun) table(schema, name string) *catalog.Table { return d.tables[srcTable{schema, name}] }

// runDatabaseRetrying runs a database's actions and, when a connection to the source is lost (and
// with it the snapshot), starts again with a new snapshot for the actions not finished yet.
func (r *Runner) runDatabaseRetrying(ctx context.Context, db string, actions []*plan.Action) error {
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		left := actionsLeft(actions, r.opt.State)
		r.mu.Unlock()
		if len(left) == 0 {
			return nil
		}
		err := r.runDatabase(ctx, db, left, attempt)
		if err == nil || ctx.Err() != nil || !(retryable(err) || snapshotLost(err) || errors.Is(err, errTargetRestarted)) || attempt >= 4 {
			return err
		}
		wait := backoff[min(attempt+2, len(backoff)-1)]
		r.emit(Event{Type: EventMessage, Message: fmt.Sprintf("Database %q: %v; starting again with a new snapshot in %s", db, err, wait)})
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// actionsLeft is what a new attempt at a database runs: the actions not applied, and every
// action of a split table of which one part is not applied. A part's rows cannot be told apart
// from the other parts' on the target, and a part may have committed without being recorded
// (its commit's reply lost, or a target that crashed after making it durable): copying it again
// would duplicate its rows, so the table is emptied and copied whole again, as a new run does.
func actionsLeft(actions []*plan.Action, st *state.State) []*plan.Action {
	applied := func(a *plan.Action) bool {
		sa := st.Action(a.Address)
		return sa != nil && sa.Status == state.ActionApplied
	}
	reload := map[string]bool{} // table address → a part is not applied
	for _, a := range actions {
		if a.Type == plan.TypeTablePart && !applied(a) {
			reload[plan.TableAddr(a.Database, a.Schema, a.Name)] = true
		}
	}
	var left []*plan.Action
	for _, a := range actions {
		split := (a.Type == plan.TypeTable && a.Parts > 0) || a.Type == plan.TypeTablePart
		if !applied(a) || (split && reload[plan.TableAddr(a.Database, a.Schema, a.Name)]) {
			left = append(left, a)
		}
	}
	return left
}

func (r *Runner) runDatabase(ctx context.Context, db string, actions []*plan.Action, attempt int) error {
	d := &dbRun{r: r, db: db, tables: map[srcTable]*catalog.Table{}}
	var err error
	var ok bool
	if attempt == 0 {
		d.sourceDump, ok, err = r.opt.Prefetch.take(db)
	}
	switch {
	case ok && err == nil:
		r.emit(Event{Type: EventPhase, Message: fmt.Sprintf("Database %q: snapshot exported and schema dumped with pg_dump %s while the plan was made", db, r.opt.Tools.Version)})
	case !ok:
		r.emit(Event{Type: EventPhase, Message: fmt.Sprintf("Database %q: exporting a snapshot and dumping the schema with pg_dump %s", db, r.opt.Tools.Version)})
		d.sourceDump, err = openSource(ctx, r.m, r.opt.Tools, db, r.opt.Plan.Source.VersionNum, r.floatDg, r.opt.TempDir)
	}
	if err != nil {
		return err
	}
	defer d.sourceDump.close()
	tv := r.opt.Plan.Target.VersionNum
	d.preamble, d.prePreamble = pgdump.ForServer(d.preamble, tv), pgdump.ForServer(d.prePreamble, tv)
	d.rewriteOwners(r.owners())
	defer func() {
		if d.barrier != nil {
			d.barrier.Close(context.WithoutCancel(ctx))
		}
	}()
	return d.schedule(ctx, actions)
}

// owners is how pg_dump's owners and grants are rewritten for the target (owners.go), or nil
// when they are not restored (roles = false).
func (r *Runner) owners() *ownerRewriter {
	if !r.m.Options.Roles {
		return nil
	}
	p := r.opt.Plan
	return &ownerRewriter{m: p.OwnerMap, login: p.Login, super: p.LoginSuperuser || p.Login == ""}
}

// schedule runs the database's actions in dependency order with Jobs workers.
func (d *dbRun) schedule(ctx context.Context, actions []*plan.Action) error {
	r := d.r
	// The database action runs first, alone: everything else needs it.
	var rest []*plan.Action
	for _, a := range actions {
		if a.Type == plan.TypeDatabase {
			start, err := r.begin(ctx, a)
			if err != nil {
				return err
			}
			err = d.database(ctx, a)
			if ferr := r.finish(ctx, a, start, 0, 0, err); ferr != nil && err == nil {
				err = ferr
			}
			if err != nil {
				return &actionError{a.Address, err}
			}
			continue
		}
		rest = append(rest, a)
	}
	src, err := d.readCatalog()
	if err != nil {
		return err
	}
	// The tables the filters leave out are not migrated: neither they nor anything of theirs.
	d.src = plan.FilterDatabase(r.m.Options, src)
	d.filter(src, d.src)
	d.used = d.usedChunks()
	d.src = runCatalog(d.src, rest, r.opt.Tools, r.opt.Plan.Target.VersionNum)
	d.readCatalog = nil // read: the run holds only what it kept of it (d.src)
	for k := range d.src.Tables {
		t := &d.src.Tables[k]
		d.tables[srcTable{t.Schema, t.Name}] = t
	}
	// Pre-data is streamed only into a database this migration created: see schema.go.
	d.streamed = r.createdDatabase(d.db) && len(d.preChunks) > 0
	return d.runGraph(ctx, rest)
}

// runCatalog is what a run at a database keeps of its source catalog src for the actions it runs:
// the whole catalog when they verify it (verify compares every index and constraint) or carry its
// statistics (an index's expression statistics), else all but its indexes and constraints, which
// only the post-data chunks run by their own actions were looked up with (usedChunks, before): at
// 20,000 tables, 40,000 indexes with their definitions, some 12 MB the run no longer holds. src
// itself, shared with the plan, is not changed.
func runCatalog(src *catalog.Database, actions []*plan.Action, tools *pgdump.Tools, targetNum pgver.V) *catalog.Database {
	for _, a := range actions {
		switch {
		case a.Type == plan.TypeVerify:
			return src
		case a.Type == plan.TypeAnalyze && tools != nil && plan.CarriesStatistics(targetNum, tools.Release):
			return src
		}
	}
	kept := *src
	kept.Indexes, kept.Constraints = nil, nil
	return &kept
}

// database creates (or replaces) the target database from the dump's DATABASE entries.
func (d *dbRun) database(ctx context.Context, a *plan.Action) error {
	r := d.r
	tgt, err := pgconn.Connect(ctx, r.m.Target, "")
	if err != nil {
		return err
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := tgt.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", d.db).Scan(&exists); err != nil {
		return err
	}
	switch a.Kind {
	case plan.Update:
		if !exists {
			return fmt.Errorf("the target database %q disappeared since the plan was made", d.db)
		}
		return nil
	case plan.Replace:
		if exists {
			if err := dropDatabase(ctx, tgt, d.db); err != nil {
				return err
			}
			if !r.createdDatabase(d.db) {
				// It existed before the migration: destroy cannot bring it back, and says so.
				r.recordChange(state.Change{Type: "database", Name: d.db, Op: "dropped"})
			}
			exists = false
		}
	}
	if exists {
		// An earlier run created it and stopped before recording it: start it afresh.
		if !r.createdDatabase(d.db) {
			return fmt.Errorf("the target database %q was created by someone else since the plan was made; plan again", d.db)
		}
	}
	return d.createDatabase(ctx, exists)
}

// createDatabase creates the database from the dump's DATABASE entries, dropping it first when
// drop is set (only ever for a database this migration created).
func (d *dbRun) createDatabase(ctx context.Context, drop bool) error {
	r := d.r
	if drop {
		tgt, err := pgconn.Connect(ctx, r.m.Target, "")
		if err != nil {
			return err
		}
		err = dropDatabase(ctx, tgt, d.db)
		tgt.Close(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
	}
	if !r.createdDatabase(d.db) {
		r.recordChange(state.Change{Type: "database", Name: d.db, Op: "created"})
		if err := r.save(ctx); err != nil {
			return err
		}
	}
	// pg_restore prints the script (printed with the dump, databaseScript, unless that failed)
	// and pgferry runs it, as it runs pre-data: with the session settings adapted to the target
	// (a pg_restore newer than the target sets what it rejects).
	script := d.createScript
	if script == nil {
		list := filepath.Join(r.tmp, "database.list")
		if err := pgdump.WriteList(list, d.dbItems); err != nil {
			return err
		}
		args := append([]string{"--create", "--verbose", "--use-list=" + list, "--file=-"}, d.restoreFlags()...)
		var err error
		if script, err = pgdump.Run(ctx, pgdump.Conn{}, r.opt.Tools.PgRestore, args...); err != nil {
			return fmt.Errorf("creating the database: %w", err)
		}
	}
	preamble, chunks := pgdump.CreateScript(script, r.opt.Plan.Target.VersionNum)
	// The database's owner and privileges follow the owner mapping (owners.go), as every entry does.
	for i := range chunks {
		chunks[i] = r.owners().rewrite(chunks[i])
	}
	if err := d.runCreateScript(ctx, preamble, chunks); err != nil {
		return err // a StatementError names the database and the statement
	}
	return nil
}

// runCreateScript runs CreateScript's chunks as pg_restore --create would: the DATABASE entry
// (CREATE DATABASE alone, then its owner) on the maintenance database, the rest (properties,
// comment, privileges) connected to the new database, each connection after the preamble.
func (d *dbRun) runCreateScript(ctx context.Context, preamble string, chunks []pgdump.Chunk) error {
	r := d.r
	// exec runs sql (one or more statements) and reports a refused statement as a
	// StatementError: op and object name what it was doing, failed statement and all.
	exec := func(c *pgx.Conn, op, object, sql string) error {
		if strings.TrimSpace(sql) == "" {
			return nil
		}
		if _, failed, err := execStatements(ctx, c, sql); err != nil {
			return newStatementError(op, object, sql, failed, err)
		}
		return nil
	}
	database := "database " + quoteName(d.db)
	tgt, err := pgconn.Connect(ctx, r.m.Target, "")
	if err != nil {
		return err
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	if err := exec(tgt, "applying", "pg_restore's session settings", preamble); err != nil {
		return err
	}
	rest := chunks
	for i, c := range chunks {
		create, owner, ok := pgdump.SeparateCreateDatabase(c.SQL)
		if !ok {
			continue
		}
		if err := exec(tgt, "creating", database, create); err != nil {
			return err
		}
		if err := exec(tgt, "setting the owner of", database, owner); err != nil {
			return err
		}
		rest = append(append([]pgdump.Chunk{}, chunks[:i]...), chunks[i+1:]...)
		break
	}
	if len(rest) == 0 {
		return nil
	}
	db, err := pgconn.Connect(ctx, r.m.Target, d.db)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	// The session settings and the chunks in one go (execPipelined), each its own message.
	msgs := []string{preamble}
	for _, c := range rest {
		msgs = append(msgs, c.SQL)
	}
	k, failed, err := execPipelined(ctx, db, msgs, preDataWindow, nil)
	switch {
	case err == nil:
		return nil
	case k == 0:
		return newStatementError("applying", "pg_restore's session settings", preamble, failed, err)
	}
	return chunkError(rest[k-1], failed, err)
}

func dropDatabase(ctx context.Context, conn *pgx.Conn, db string) error {
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(db))
	return err
}
