package apply

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgferry/pgferry/plan"
)

// worker is one of the Jobs parallel workers of a database: it keeps a source connection inside
// the exported snapshot and a target connection, opened on first use.
type worker struct {
	d         *dbRun
	src, tgt  *pgx.Conn
	preambled bool
	// retry is set while the current action is tried again after a lost connection.
	retry bool
	// work is the current action's work time when it is not its elapsed time (analyze).
	work time.Duration
}

func (w *worker) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if w.src != nil {
		w.src.Close(ctx)
		w.src = nil
	}
	if w.tgt != nil {
		w.tgt.Close(ctx)
		w.tgt = nil
	}
	w.preambled = false
}

// source returns a connection to the source database that sees the exported snapshot.
func (w *worker) source(ctx context.Context) (*pgx.Conn, error) {
	if w.src != nil {
		return w.src, nil
	}
	c, err := openSnapshotConn(ctx, w.d)
	if err != nil {
		return nil, err
	}
	w.src = c
	return c, nil
}

func openSnapshotConn(ctx context.Context, d *dbRun) (*pgx.Conn, error) {
	c, err := Connect(ctx, d.r.m.Source, d.db)
	if err != nil {
		return nil, err
	}
	if err := SessionSettings(ctx, c, d.r.floatDg); err != nil {
		c.Close(ctx)
		return nil, err
	}
	if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		c.Close(ctx)
		return nil, err
	}
	if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT "+literal(d.snapshot)); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("importing the source snapshot: %w", err)
	}
	return c, nil
}

// conns returns the worker's source (in the snapshot) and target connections.
func (w *worker) conns(ctx context.Context) (src, tgt *pgx.Conn, err error) {
	if src, err = w.source(ctx); err != nil {
		return nil, nil, err
	}
	if tgt, err = w.target(ctx); err != nil {
		return nil, nil, err
	}
	return src, tgt, nil
}

// target returns a connection to the target database tuned for bulk loading.
func (w *worker) target(ctx context.Context) (*pgx.Conn, error) {
	if w.tgt != nil {
		return w.tgt, nil
	}
	c, err := openTargetConn(ctx, w.d)
	if err != nil {
		return nil, err
	}
	w.tgt = c
	return c, nil
}

func openTargetConn(ctx context.Context, d *dbRun) (*pgx.Conn, error) {
	c, err := Connect(ctx, d.r.m.Target, d.db)
	if err != nil {
		return nil, err
	}
	if err := SessionSettings(ctx, c, d.r.floatDg); err != nil {
		c.Close(ctx)
		return nil, err
	}
	// Bulk-load settings, for this session only: nothing to restore afterwards.
	if _, err := c.Exec(ctx, "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'"); err != nil {
		c.Close(ctx)
		return nil, err
	}
	if d.r.opt.Plan.Target.VersionNum.AtLeast(14) {
		// A statement whose client died (pgferry killed) stops within a second instead of running on.
		if _, err := c.Exec(ctx, "SET client_connection_check_interval = '1s'"); err != nil {
			c.Close(ctx)
			return nil, err
		}
	}
	return c, nil
}

// run runs one action, retrying it when its connection was lost, and records its outcome in memory:
// a success stays "running" until runGraph queues it for confirmation (queueConfirm).
func (w *worker) run(ctx context.Context, a *plan.Action) error {
	r := w.d.r
	start := r.markBegin(a)
	var rows, bytes int64
	var err error
	for attempt := 0; ; attempt++ {
		w.retry = attempt > 0
		rows, bytes, err = w.do(ctx, a)
		if err != nil {
			// A failed statement may leave the connections mid-transaction or broken.
			w.close()
		}
		// Streamed pre-data is not tried again here: early copies may be running in the database
		// a new try would drop and create again. Nor is a part of a split table: its commit may
		// have succeeded before the connection was lost, and its rows cannot be told apart from
		// the other parts'. The database's run starts over instead (it reloads a split table whole).
		if err == nil || !retryable(err) || attempt >= len(backoff) || ctx.Err() != nil || (a.Type == plan.TypeSchema && w.d.streamed) || a.Type == plan.TypeTablePart {
			break
		}
		r.emit(Event{Type: EventMessage, Address: a.Address, Message: fmt.Sprintf("%s: connection lost (%v); retrying in %s", a.Address, err, backoff[attempt])})
		if serr := sleep(ctx, backoff[attempt]); serr != nil {
			break
		}
	}
	r.markFinish(ctx, a, start, rows, bytes, w.work, err, true)
	w.work = 0
	return err
}

// do runs one action once.
func (w *worker) do(ctx context.Context, a *plan.Action) (rows, bytes int64, err error) {
	switch a.Type {
	case plan.TypeExtension:
		err = w.extension(ctx, a)
	case plan.TypeSchema:
		if w.d.streamed {
			err = w.d.streamSchema(ctx)
		} else {
			err = w.d.schema(ctx)
		}
	case plan.TypeTable:
		if a.Parts > 0 {
			err = w.truncate(ctx, a)
		} else {
			rows, bytes, err = w.copyTable(ctx, a)
		}
	case plan.TypeTablePart:
		rows, bytes, err = w.copyTable(ctx, a)
	case plan.TypeIndex, plan.TypeConstraint:
		err = w.postDataObject(ctx, a)
	case plan.TypeSequences:
		rows, err = w.sequences(ctx)
	case plan.TypeLargeObj:
		rows, bytes, err = w.largeObjects(ctx, a)
	case plan.TypeExtData:
		rows, bytes, err = w.extensionData(ctx)
	case plan.TypePostData:
		err = w.postData(ctx)
	case plan.TypeAnalyze:
		w.work, err = w.d.analyze(ctx)
	case plan.TypeVerify:
		err = w.d.verify(ctx)
	case plan.TypeOwnership:
		err = w.confirmOwnership(ctx, a)
	default:
		err = fmt.Errorf("unexpected action type %q", a.Type)
	}
	return rows, bytes, err
}

// schema restores pre-data in one transaction: all of it or nothing, without the extensions'
// entries (the extension actions ran them). A database this migration created that is not empty (a
// pg_restore of an earlier, killed run that got further than the state says) is recreated first.
func (d *dbRun) schema(ctx context.Context) error {
	if err := d.ensureEmpty(ctx); err != nil {
		return err
	}
	if err := d.ensureExtensions(ctx); err != nil {
		return fmt.Errorf("restoring the schema: %w", err)
	}
	// pg_restore's own pre-data script, as the streamed path runs it: without the entries the
	// extension actions ran or the table filters dropped, with session settings adapted to the
	// target (ForServer), in one transaction (what pg_restore --single-transaction does).
	return d.schemaScript(ctx)
}

// schemaScript runs pg_restore's pre-data script on one connection in one transaction.
func (d *dbRun) schemaScript(ctx context.Context) error {
	c, err := openTargetConn(ctx, d)
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
		return fmt.Errorf("restoring the schema: %w", describePgError(err))
	}
	d.freshSchema.Store(true)
	return nil
}

func (d *dbRun) ensureEmpty(ctx context.Context) error {
	tgt, err := Connect(ctx, d.r.m.Target, d.db)
	if err != nil {
		return err
	}
	var n int
	// What the extension actions created (an extension's tables, sequences and their indexes) does
	// not count: it is there before pre-data by design.
	err = tgt.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.deptype = 'e'
			AND dep.objid IN (c.oid, (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = c.oid)))`).Scan(&n)
	tgt.Close(context.WithoutCancel(ctx))
	if err != nil || n == 0 {
		return err
	}
	if !d.r.createdDatabase(d.db) {
		return fmt.Errorf("the target database %q is not empty (%d relations) and was not created by this migration; drop it or set overwrite_databases = true", d.db, n)
	}
	d.r.emit(Event{Type: EventMessage, Message: fmt.Sprintf("Database %q holds objects of an interrupted earlier run: recreating it", d.db)})
	return d.createDatabase(ctx, true)
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// copyColumns lists the columns COPY moves: generated columns are computed by the target.
func copyColumns(cols []string) string { return strings.Join(cols, ", ") }

// truncate empties a split table before its parts are copied, so that a reload never duplicates rows.
func (w *worker) truncate(ctx context.Context, a *plan.Action) error {
	tgt, err := w.target(ctx)
	if err != nil {
		return err
	}
	_, err = tgt.Exec(ctx, "TRUNCATE ONLY "+pgx.Identifier{a.Schema, a.Name}.Sanitize())
	return err
}

// freezeMinBytes is the size from which a table is loaded with COPY FREEZE even into a table
// created empty by this run.
const freezeMinBytes = 32 << 20

// copyTable streams one table, or one part of a split table, from the snapshot into the target.
// A whole table is loaded in one transaction, emptied first (and loaded with COPY FREEZE) unless
// it is small and this run's pre-data created it, so a retried copy never duplicates rows; a part
// copies its range of heap pages into the table its table action emptied.
func (w *worker) copyTable(ctx context.Context, a *plan.Action) (int64, int64, error) {
	t := w.d.tables[plan.TableAddr(a.Database, a.Schema, a.Name)]
	if t == nil {
		return 0, 0, fmt.Errorf("table %s.%s no longer exists on the source", a.Schema, a.Name)
	}
	src, tgt, err := w.conns(ctx)
	if err != nil {
		return 0, 0, err
	}
	var cols []string
	binary := true
	for _, c := range t.Columns {
		if c.Generated {
			continue
		}
		cols = append(cols, ident(c.Name))
		if !c.Builtin {
			binary = false
		}
	}
	q := t.Qualified()
	if _, err := tgt.Exec(ctx, "BEGIN"); err != nil {
		return 0, 0, err
	}
	part := a.Type == plan.TypeTablePart
	// A small table this run's pre-data just created is empty: it is loaded as it is. The TRUNCATE
	// COPY FREEZE needs would create new files for the table and its TOAST table for nothing, a
	// cost that dominates the copy of a small table; large ones are worth freezing, so that neither
	// the index builds nor a later anti-wraparound VACUUM have to write every page again.
	fresh := w.d.freshSchema.Load() && !w.retry && t.SizeBytes < freezeMinBytes
	if !part && !fresh {
		if _, err := tgt.Exec(ctx, "TRUNCATE ONLY "+q); err != nil {
			return 0, 0, err
		}
	}
	if len(cols) == 0 && !part {
		// A table without columns still has rows: copy their number.
		var n int64
		if err := src.QueryRow(ctx, "SELECT count(*) FROM ONLY "+q).Scan(&n); err != nil {
			return 0, 0, err
		}
		if _, err := tgt.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT FROM generate_series(1, %d)", q, n)); err != nil {
			return 0, 0, err
		}
		return n, 0, w.commit(ctx, tgt)
	}
	format := "text"
	if binary {
		format = "binary"
	}
	out := fmt.Sprintf("COPY %s (%s) TO STDOUT WITH (FORMAT %s)", q, copyColumns(cols), format)
	in := fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT %s, FREEZE)", q, copyColumns(cols), format)
	if fresh {
		in = fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT %s)", q, copyColumns(cols), format)
	}
	if part {
		// A TID range scan reads only the part's pages (PostgreSQL 14+).
		where := fmt.Sprintf("ctid >= '(%d,0)'::tid", a.PageFrom)
		if a.PageTo > 0 {
			where += fmt.Sprintf(" AND ctid < '(%d,0)'::tid", a.PageTo)
		}
		if len(cols) == 0 {
			return 0, 0, fmt.Errorf("a table without columns cannot be split")
		}
		out = fmt.Sprintf("COPY (SELECT %s FROM ONLY %s WHERE %s) TO STDOUT WITH (FORMAT %s)", copyColumns(cols), q, where, format)
		in = fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT %s)", q, copyColumns(cols), format)
	}

	rows, bytes, err := pipeCopy(ctx, src, tgt, out, in, func(elapsed time.Duration, bytes int64) {
		w.d.r.emit(Event{Type: EventProgress, Address: a.Address, Action: a, Elapsed: elapsed, Bytes: bytes})
		w.d.r.recordProgress(ctx, a, 0, bytes)
	})
	if err != nil {
		return 0, bytes, err
	}
	if err := w.commit(ctx, tgt); err != nil {
		return 0, bytes, err
	}
	return rows, bytes, nil
}

// commit commits the transaction that wrote rows and, on PostgreSQL 15 and later, has the server
// publish this session's counts of changed rows before it answers. A server publishes them up to
// a second later otherwise, and ANALYZE on another connection may run in between: counts
// published after it add to the table's rows changed since it was analyzed, and autovacuum then
// analyzes those tables again once the migration is over.
func (w *worker) commit(ctx context.Context, c *pgx.Conn) error {
	q := "COMMIT"
	if w.d.r.opt.Plan.Target.VersionNum.AtLeast(15) {
		q = "COMMIT; SELECT pg_catalog.pg_stat_force_next_flush()"
	}
	_, err := c.Exec(ctx, q)
	return err
}

// copyBuffers are the 1 MiB buffers pipeCopy batches rows in, kept between copies (a database of
// thousands of small tables would otherwise allocate one per table).
var copyBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// CopyProgressEvery is how often a running copy reports its bytes (apply_progress): the live bars
// and apply --json show them; the plain text view prints one line every StillEvery.
const CopyProgressEvery = time.Second

// pipeCopy streams COPY out on src into COPY in on tgt, connection to connection, and returns the
// rows loaded and the bytes moved. progress, when not nil, is called every CopyProgressEvery.
func pipeCopy(ctx context.Context, src, tgt *pgx.Conn, out, in string, progress func(elapsed time.Duration, bytes int64)) (int64, int64, error) {
	pr, pw := io.Pipe()
	cw := &countingWriter{w: pw}
	srcErr := make(chan error, 1)
	go func() {
		// CopyTo writes one message per row: batch them so the pipe hands over large blocks.
		bw := copyBuffers.Get().(*bufio.Writer)
		bw.Reset(cw)
		_, err := src.PgConn().CopyTo(ctx, bw, out)
		if err == nil {
			err = bw.Flush()
		}
		bw.Reset(nil)
		copyBuffers.Put(bw)
		pw.CloseWithError(err) // nil → EOF for the reader
		srcErr <- err
	}()
	stop := make(chan struct{})
	if progress != nil {
		go func() {
			tick := time.NewTicker(CopyProgressEvery)
			defer tick.Stop()
			start := time.Now()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					progress(time.Since(start), cw.n.Load())
				}
			}
		}()
	}
	tag, err := tgt.PgConn().CopyFrom(ctx, pr, in)
	close(stop)
	if err != nil {
		pr.CloseWithError(err)
	}
	if serr := <-srcErr; serr != nil && err == nil {
		err = fmt.Errorf("reading from the source: %w", serr)
	}
	if err != nil {
		return 0, cw.n.Load(), err
	}
	return tag.RowsAffected(), cw.n.Load(), nil
}

// chunkFor finds the pg_dump definition of an index or constraint action.
func (d *dbRun) chunkFor(a *plan.Action) (int, bool) {
	if a.ConstraintOID != 0 {
		k, ok := d.byOID[[2]uint32{2606, a.ConstraintOID}]
		return k, ok
	}
	if a.Type == plan.TypeConstraint {
		k, ok := d.byOID[[2]uint32{2606, a.SourceOID}]
		return k, ok
	}
	k, ok := d.byOID[[2]uint32{1259, a.SourceOID}]
	return k, ok
}

func (w *worker) preamble(ctx context.Context, c *pgx.Conn) error {
	if w.preambled {
		return nil
	}
	if _, failed, err := execStatements(ctx, c, w.d.preamble); err != nil {
		return newStatementError("applying", "pg_restore's session settings", w.d.preamble, failed, err)
	}
	w.preambled = true
	return nil
}

// postDataObject builds one index or constraint from pg_dump's definition. What an interrupted
// earlier attempt left behind is dropped first, so a rebuild never fails on "already exists".
func (w *worker) postDataObject(ctx context.Context, a *plan.Action) error {
	k, ok := w.d.chunkFor(a)
	if !ok {
		return fmt.Errorf("pg_dump printed no definition for %s.%s", a.Schema, a.Name)
	}
	tgt, err := w.target(ctx)
	if err != nil {
		return err
	}
	if err := w.preamble(ctx, tgt); err != nil {
		return err
	}
	// In a database whose pre-data this run restored, only an earlier try of this action can have
	// left its object behind; otherwise an earlier, interrupted run may have.
	mayExist := w.retry || !w.d.freshSchema.Load()
	if !mayExist {
		// nothing to clean up
	} else if a.Type == plan.TypeConstraint || a.ConstraintOID != 0 {
		var exists bool
		tbl := pgx.Identifier{a.Schema, a.Table}.Sanitize()
		if err := tgt.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass($1) AND conname = $2)", tbl, a.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			if _, err := tgt.Exec(ctx, fmt.Sprintf("ALTER TABLE ONLY %s DROP CONSTRAINT %s", tbl, ident(a.Name))); err != nil {
				return err
			}
		}
	} else {
		idx := pgx.Identifier{a.Schema, a.Name}.Sanitize()
		if _, err := tgt.Exec(ctx, "DROP INDEX IF EXISTS "+idx); err != nil {
			return err
		}
	}
	if _, failed, err := execStatements(ctx, tgt, w.d.chunks[k].SQL); err != nil {
		return chunkError(w.d.chunks[k], failed, err)
	}
	return nil
}

// usedChunks marks the chunks that index and constraint actions run, so post_data skips them.
func (d *dbRun) usedChunks() map[int]bool {
	used := map[int]bool{}
	for _, ix := range d.src.Indexes {
		key := [2]uint32{1259, ix.OID}
		if ix.ConstraintOID != 0 {
			key = [2]uint32{2606, ix.ConstraintOID}
		}
		if k, ok := d.byOID[key]; ok {
			used[k] = true
		}
	}
	for _, c := range d.src.Constraints {
		if c.Type == "f" && !c.Inherited {
			if k, ok := d.byOID[[2]uint32{2606, c.OID}]; ok {
				used[k] = true
			}
		}
	}
	return used
}

// postData runs the rest of pg_dump's post-data in one transaction: triggers, rules, policies,
// index attachments, comments, privileges and materialized view data.
func (w *worker) postData(ctx context.Context) error {
	tgt, err := w.target(ctx)
	if err != nil {
		return err
	}
	used := w.d.usedChunks()
	if _, err := tgt.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	if _, failed, err := execStatements(ctx, tgt, w.d.preamble); err != nil {
		return newStatementError("applying", "pg_restore's session settings", w.d.preamble, failed, err)
	}
	for k, c := range w.d.chunks {
		if used[k] {
			continue
		}
		if w.d.matviewData[k] {
			// A materialized view is refreshed under the database's default search_path, as the
			// source's sessions refreshed it, not under the empty one of pg_dump's scripts: a query
			// calling a function that relies on the search_path fails there (relation does not exist).
			if _, err := tgt.Exec(ctx, "SET search_path TO DEFAULT"); err != nil {
				return err
			}
		}
		if _, failed, err := execStatements(ctx, tgt, c.SQL); err != nil {
			return chunkError(c, failed, err)
		}
		if w.d.matviewData[k] {
			if _, err := tgt.Exec(ctx, "SELECT pg_catalog.set_config('search_path', '', false)"); err != nil {
				return err
			}
		}
	}
	return w.commit(ctx, tgt) // materialized views' data
}

// sequences sets every sequence to its value in the snapshot.
func (w *worker) sequences(ctx context.Context) (int64, error) {
	tgt, err := w.target(ctx)
	if err != nil {
		return 0, err
	}
	var b strings.Builder
	for _, s := range w.d.src.Sequences {
		fmt.Fprintf(&b, "SELECT pg_catalog.setval(%s, %d, %t);\n", literal(s.Qualified()), s.LastValue, s.IsCalled)
	}
	if b.Len() == 0 {
		return 0, nil
	}
	if k, failed, err := execStatements(ctx, tgt, b.String()); err != nil {
		object := ""
		if k < len(w.d.src.Sequences) {
			object = "sequence " + qualifiedName(w.d.src.Sequences[k].Schema, w.d.src.Sequences[k].Name)
		}
		return 0, newStatementError("setting", object, b.String(), failed, err)
	}
	return int64(len(w.d.src.Sequences)), nil
}

// parallel runs n tasks on up to jobs connections.
func parallel(ctx context.Context, jobs, n int, open func() (*pgx.Conn, error), task func(context.Context, *pgx.Conn, int) error) error {
	if n == 0 {
		return nil
	}
	jobs = min(jobs, n)
	next := atomic.Int64{}
	errs := make(chan error, jobs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for j := 0; j < jobs; j++ {
		go func() {
			c, err := open()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(context.WithoutCancel(ctx))
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				if err := task(ctx, c, i); err != nil {
					cancel()
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for j := 0; j < jobs; j++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// describePgError adds the server's detail and hint to an error message.
func describePgError(err error) error {
	if pe, ok := err.(*pgconn.PgError); ok {
		msg := pe.Message
		if pe.Detail != "" {
			msg += " (" + pe.Detail + ")"
		}
		if pe.Hint != "" {
			msg += "; hint: " + pe.Hint
		}
		return fmt.Errorf("%s (SQLSTATE %s)", msg, pe.Code)
	}
	return err
}

// loChunk is how much of a large object one round trip moves.
const loChunk = 1 << 20

// readLargeObject reads large object oid in loChunk pieces and hands each non-empty one, with its
// offset, to each: no object has to fit in one value.
func readLargeObject(ctx context.Context, c *pgx.Conn, oid uint32, each func(off int64, b []byte) error) error {
	for off := int64(0); ; off += loChunk {
		var b []byte
		if err := c.QueryRow(ctx, "SELECT pg_catalog.lo_get($1, $2, $3)", oid, off, loChunk).Scan(&b); err != nil {
			return fmt.Errorf("reading large object %d: %w", oid, describePgError(err))
		}
		if len(b) > 0 {
			if err := each(off, b); err != nil {
				return err
			}
		}
		if len(b) < loChunk {
			return nil
		}
	}
}

// largeObjects copies the contents of every large object of the snapshot, in one transaction (a
// retry starts from scratch). pg_dump's pre-data created them empty, with their OIDs, owners and
// privileges; one it did not create (a pg_dump that keeps their metadata in the data section) is
// created here with its owner. Each is emptied first, so a run after an unrecorded commit never
// leaves a longer old tail.
func (w *worker) largeObjects(ctx context.Context, a *plan.Action) (int64, int64, error) {
	src, tgt, err := w.conns(ctx)
	if err != nil {
		return 0, 0, err
	}
	type lo struct {
		oid   uint32
		owner string
	}
	rows, err := src.Query(ctx, `SELECT oid, pg_catalog.pg_get_userbyid(lomowner)::text FROM pg_catalog.pg_largeobject_metadata ORDER BY oid`)
	if err != nil {
		return 0, 0, err
	}
	los, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (lo, error) {
		var l lo
		err := r.Scan(&l.oid, &l.owner)
		return l, err
	})
	if err != nil {
		return 0, 0, err
	}
	rows, err = tgt.Query(ctx, `SELECT oid FROM pg_catalog.pg_largeobject_metadata`)
	if err != nil {
		return 0, 0, err
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return 0, 0, err
	}
	have := map[uint32]bool{}
	for _, oid := range existing {
		have[oid] = true
	}
	var meta map[uint32][]string
	if len(existing) < len(los) {
		// Some were not created by pre-data (pg_dump 17+): their privileges and comments too.
		if meta, err = largeObjectMeta(ctx, src, w.d.r.m.Options.Roles, w.d.r.owners()); err != nil {
			return 0, 0, err
		}
	}
	if _, err := tgt.Exec(ctx, "BEGIN"); err != nil {
		return 0, 0, err
	}
	var n, total int64
	start := time.Now()
	last := start
	for _, l := range los {
		if !have[l.oid] {
			if _, err := tgt.Exec(ctx, "SELECT pg_catalog.lo_create($1)", l.oid); err != nil {
				stmt := fmt.Sprintf("SELECT pg_catalog.lo_create(%d)", l.oid)
				return n, total, newStatementError("creating", fmt.Sprintf("large object %d", l.oid), stmt, stmt, err)
			}
			if w.d.r.m.Options.Roles {
				stmt := fmt.Sprintf("ALTER LARGE OBJECT %d OWNER TO %s", l.oid, ident(w.d.r.owners().owner(l.owner)))
				if _, err := tgt.Exec(ctx, stmt); err != nil {
					return n, total, newStatementError("creating", fmt.Sprintf("large object %d", l.oid), stmt, stmt, err)
				}
			}
		} else if _, err := tgt.Exec(ctx, "SELECT pg_catalog.lo_truncate(pg_catalog.lo_open($1, 131072), 0)", l.oid); err != nil { // 131072: INV_WRITE
			return n, total, fmt.Errorf("emptying large object %d: %w", l.oid, describePgError(err))
		}
		// Privileges and comments (idempotent: an object an earlier, interrupted try created gets
		// them again).
		for _, q := range meta[l.oid] {
			if _, err := tgt.Exec(ctx, q); err != nil {
				op := "granting privileges on"
				if strings.HasPrefix(q, "COMMENT") {
					op = "setting the comment on"
				}
				return n, total, newStatementError(op, fmt.Sprintf("large object %d", l.oid), q, q, err)
			}
		}
		err := readLargeObject(ctx, src, l.oid, func(off int64, b []byte) error {
			if _, err := tgt.Exec(ctx, "SELECT pg_catalog.lo_put($1, $2, $3)", l.oid, off, b); err != nil {
				return fmt.Errorf("writing large object %d: %w", l.oid, describePgError(err))
			}
			total += int64(len(b))
			return nil
		})
		if err != nil {
			return n, total, err
		}
		n++
		if meta != nil && n%1000 == 0 {
			// Setting owners and privileges locks each object until commit: commit in batches, or
			// a database of many large objects fills the server's lock table.
			if _, err := tgt.Exec(ctx, "COMMIT; BEGIN"); err != nil {
				return n, total, err
			}
		}
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			w.d.r.emit(Event{Type: EventProgress, Address: a.Address, Action: a, Elapsed: time.Since(start), Rows: n, Bytes: total})
			w.d.r.recordProgress(ctx, a, n, total)
		}
	}
	if _, err := tgt.Exec(ctx, "COMMIT"); err != nil {
		return n, total, err
	}
	return n, total, nil
}

// extensionData copies what users added to extensions' configuration tables (the rows matching the
// extension's condition, as pg_dump dumps them) and sets configuration sequences, in one
// transaction. CREATE EXTENSION in pre-data made the tables with the extension's own rows; the
// rows matching the condition are deleted first, so a retry never duplicates them.
func (w *worker) extensionData(ctx context.Context) (int64, int64, error) {
	src, tgt, err := w.conns(ctx)
	if err != nil {
		return 0, 0, err
	}
	if _, err := tgt.Exec(ctx, "BEGIN"); err != nil {
		return 0, 0, err
	}
	var rows, bytes int64
	for _, c := range w.d.src.ExtensionConfig {
		q := c.Qualified()
		if c.Kind == "S" {
			var last int64
			var called bool
			if err := src.QueryRow(ctx, "SELECT last_value, is_called FROM "+q).Scan(&last, &called); err != nil {
				return rows, bytes, fmt.Errorf("reading %s of extension %s: %w", q, c.Extension, err)
			}
			if _, err := tgt.Exec(ctx, "SELECT pg_catalog.setval($1, $2, $3)", q, last, called); err != nil {
				return rows, bytes, fmt.Errorf("setting %s of extension %s: %w", q, c.Extension, describePgError(err))
			}
			continue
		}
		if _, err := tgt.Exec(ctx, fmt.Sprintf("DELETE FROM ONLY %s %s", q, c.Condition)); err != nil {
			return rows, bytes, fmt.Errorf("emptying %s of extension %s: %w", q, c.Extension, describePgError(err))
		}
		n, b, err := pipeCopy(ctx, src, tgt, fmt.Sprintf("COPY (SELECT * FROM ONLY %s %s) TO STDOUT", q, c.Condition), fmt.Sprintf("COPY %s FROM STDIN", q), nil)
		if err != nil {
			return rows, bytes, fmt.Errorf("copying %s of extension %s: %w", q, c.Extension, describePgError(err))
		}
		rows, bytes = rows+n, bytes+b
	}
	if err := w.commit(ctx, tgt); err != nil {
		return rows, bytes, err
	}
	return rows, bytes, nil
}
