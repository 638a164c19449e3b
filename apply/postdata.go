package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/plan"
)

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
	if err := w.dropLeftover(ctx, tgt, a); err != nil {
		return err
	}
	if _, failed, err := execStatements(ctx, tgt, w.d.chunks[k].SQL); err != nil {
		return chunkError(w.d.chunks[k], failed, err)
	}
	w.d.releaseChunk(k)
	return nil
}

// releaseChunk lets go of the text of post-data chunk k once the one action that runs it
// (usedChunks) succeeded: nothing of this attempt at the database runs it again (a new attempt
// dumps anew), and at 20,000 tables the indexes' and foreign keys' chunks are some 6 MB held
// otherwise to the end of the run, while the state grows. Chunk k is this action's alone: each
// worker writes only its own actions' chunks, and postData reads only the others'.
func (d *dbRun) releaseChunk(k int) { d.chunks[k].SQL = "" }

// postDataGroup builds indexes of one table (graph.go's groups) from pg_dump's definitions sent
// in one message: one round trip, and one transaction, so they are all built or none is (a
// connection lost before its reply leaves either every one of them or none, and dropLeftover
// handles both on the next try).
func (w *worker) postDataGroup(ctx context.Context, actions []*plan.Action) error {
	tgt, err := w.target(ctx)
	if err != nil {
		return err
	}
	if err := w.preamble(ctx, tgt); err != nil {
		return err
	}
	var b strings.Builder
	for _, a := range actions {
		k, ok := w.d.chunkFor(a)
		if !ok {
			return fmt.Errorf("pg_dump printed no definition for %s.%s", a.Schema, a.Name)
		}
		if err := w.dropLeftover(ctx, tgt, a); err != nil {
			return err
		}
		b.WriteString(w.d.chunks[k].SQL)
		b.WriteString("\n")
	}
	if _, failed, err := execStatements(ctx, tgt, b.String()); err != nil {
		return newStatementError("building", fmt.Sprintf("the indexes of table %s", qualifiedName(actions[0].Schema, actions[0].Table)), b.String(), failed, err)
	}
	for _, a := range actions {
		if k, ok := w.d.chunkFor(a); ok {
			w.d.releaseChunk(k)
		}
	}
	return nil
}

// dropLeftover drops what an interrupted earlier attempt of index or constraint action a may
// have left behind. In a database whose pre-data this run restored, only an earlier try of this
// action can have; otherwise an earlier, interrupted run may have.
func (w *worker) dropLeftover(ctx context.Context, tgt *pgx.Conn, a *plan.Action) error {
	if !w.retry && w.d.freshSchema.Load() {
		return nil
	}
	if a.Type == plan.TypeConstraint || a.ConstraintOID != 0 {
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
		return nil
	}
	_, err := tgt.Exec(ctx, "DROP INDEX IF EXISTS "+pgx.Identifier{a.Schema, a.Name}.Sanitize())
	return err
}

// usedChunks marks the chunks that index and constraint actions run, so post_data skips them.
// It looks at the catalog's indexes and constraints, which the run may let go of after
// (runCatalog): schedule takes it first.
func (d *dbRun) usedChunks() []bool {
	used := make([]bool, len(d.chunks))
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
	used := w.d.used
	if _, err := tgt.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	if _, failed, err := execStatements(ctx, tgt, w.d.preamble); err != nil {
		return newStatementError("applying", "pg_restore's session settings", w.d.preamble, failed, err)
	}
	for k := range w.d.chunks {
		if used[k] {
			continue // its action's, which may be letting go of its text (releaseChunk)
		}
		c := w.d.chunks[k]
		if w.d.matviewData[k] {
			// A materialized view is refreshed under the database's default search_path, as the
			// source's sessions refreshed it, not under the empty one of pg_dump's scripts: a query
			// calling a function that relies on the search_path fails there (relation does not exist).
			// Its query has JIT as the target's settings say, not off as for the worker's own (noJIT).
			if _, err := tgt.Exec(ctx, "SET search_path TO DEFAULT"+w.jitReset("TO DEFAULT")); err != nil {
				return err
			}
		}
		if _, failed, err := execStatements(ctx, tgt, c.SQL); err != nil {
			return chunkError(c, failed, err)
		}
		if w.d.matviewData[k] {
			if _, err := tgt.Exec(ctx, "SELECT pg_catalog.set_config('search_path', '', false)"+w.jitReset("= off")); err != nil {
				return err
			}
		}
	}
	return w.commit(ctx, tgt) // materialized views' data
}

// jitReset is "; SET jit <to>" where the worker's target session turns JIT off (noJIT), else "".
func (w *worker) jitReset(to string) string {
	if noJIT(w.d.r.opt.Plan.Target.VersionNum) == "" {
		return ""
	}
	return "; SET jit " + to
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
