package apply

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/every"
	"github.com/pgferry/pgferry/internal/pgio"
	"github.com/pgferry/pgferry/internal/pgver"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/plan"
)

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

// bpcharOID is the type OID of character(n) (bpchar).
const bpcharOID = 1042

// trimBytesSince is the first source version with rtrim(bytea, bytea), which copyExpr trims
// character(n) values with in binary COPY.
const trimBytesSince = 14

// copyExpr is what the source's COPY in format sends of column c, on a source of version v, and
// whether that is not the column as it is stored. A character(n) value is stored padded with
// spaces to n characters; it is sent without its trailing spaces, and the target's character(n)
// input (text or binary) pads it back to n characters: the stored value is the same, and the
// padding never crosses the link (pgbench_accounts' character(84) filler is 84 of a row's 96
// bytes). Only a column declared with a length: a bare bpchar keeps its trailing spaces as given,
// and a domain or an array of character(n) is sent as it is.
//
// In text, the value is cast to text. In binary, from PostgreSQL 14 on, the spaces are cut from
// the bytes binary COPY would send of the value (bpcharsend: the characters in the client's
// encoding) with rtrim on bytea, whose binary form is those bytes: the very bytes the cast to
// text sends, at a tenth of its cost. The cast trims character by character (rtrim), which in a
// multibyte database such as UTF8 costs the source more than the rest of the COPY:
// pgbench_accounts' 5M rows took 4.5 s of the source's CPU with the cast, 2.2 s with the bytes
// cut and 1.9 s untrimmed, and that CPU bounded the copy on loopback. A space (0x20) is never
// part of a multibyte character in any encoding PostgreSQL supports, server or client, so
// cutting bytes cuts only spaces.
func copyExpr(c catalog.Column, format string, v pgver.V) (string, bool) {
	if c.TypeOID != bpcharOID || !strings.HasPrefix(c.Type, "character(") {
		return ident(c.Name), false
	}
	if format == config.CopyFormatBinary && v.AtLeast(trimBytesSince) {
		return fmt.Sprintf(`pg_catalog.rtrim(pg_catalog.bpcharsend(%s), '\x20'::pg_catalog.bytea)`, ident(c.Name)), true
	}
	return ident(c.Name) + "::pg_catalog.text", true
}

// copyExprs is what the source's COPY in format sends of each column of t that COPY moves
// (copyExpr; generated columns are computed by the target), and whether any of them is not the
// column as it is stored.
func copyExprs(t *catalog.Table, format string, v pgver.V) (exprs []string, changed bool) {
	for _, c := range t.Columns {
		if c.Generated {
			continue
		}
		e, ch := copyExpr(c, format, v)
		exprs, changed = append(exprs, e), changed || ch
	}
	return exprs, changed
}

// copySource is the COPY that reads t's rows (only t's, not its children's) on a source of
// version v, of the columns COPY moves, in format, optionally restricted by where: the table
// itself unless a column is sent otherwise than stored (copyExpr) or where is set, then a query.
func copySource(t *catalog.Table, format, where string, v pgver.V) string {
	exprs, changed := copyExprs(t, format, v)
	if !changed && where == "" { // each expression is its column's name
		return fmt.Sprintf("COPY %s (%s) TO STDOUT WITH (FORMAT %s)", t.Qualified(), copyColumns(exprs), format)
	}
	if where != "" {
		where = " WHERE " + where
	}
	return fmt.Sprintf("COPY (SELECT %s FROM ONLY %s%s) TO STDOUT WITH (FORMAT %s)", strings.Join(exprs, ", "), t.Qualified(), where, format)
}

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
// copies its range of heap pages into the table its table action emptied. A small new table or a
// part is one Query message on the target, its own implicit transaction: one round trip, the
// COPY's data sent without waiting for the server's answer to the command.
func (w *worker) copyTable(ctx context.Context, a *plan.Action) (int64, int64, error) {
	t := w.d.table(a.Schema, a.Name)
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
	binary = binaryCopy(a, binary)
	q := t.Qualified()
	part := a.Type == plan.TypeTablePart
	// A small table this run's pre-data just created is empty: it is loaded as it is. The TRUNCATE
	// COPY FREEZE needs would create new files for the table and its TOAST table for nothing, a
	// cost that dominates the copy of a small table; large ones are worth freezing, so that neither
	// the index builds nor a later anti-wraparound VACUUM have to write every page again.
	fresh := w.d.freshSchema.Load() && !w.retry && t.SizeBytes < freezeMinBytes
	if len(cols) == 0 && !part {
		// A table without columns still has rows: copy their number.
		if _, err := tgt.Exec(ctx, "BEGIN"); err != nil {
			return 0, 0, err
		}
		if !fresh {
			if _, err := tgt.Exec(ctx, "TRUNCATE ONLY "+q); err != nil {
				return 0, 0, err
			}
		}
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
	out := copySource(t, format, "", w.d.r.opt.Plan.Source.VersionNum)
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
		out = copySource(t, format, where, w.d.r.opt.Plan.Source.VersionNum)
		in = fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT %s)", q, copyColumns(cols), format)
	}

	// A table emptied first is emptied and loaded in one transaction block (COPY FREEZE needs the
	// TRUNCATE in its transaction): a large table, where a round trip more or less does not count.
	// Otherwise, the whole load is one Query message, one implicit transaction: all of it or
	// nothing, as a transaction block around it would be, without the round trips of BEGIN and
	// COMMIT.
	block := !part && !fresh
	if block {
		if _, err := tgt.Exec(ctx, "BEGIN; TRUNCATE ONLY "+q); err != nil {
			return 0, 0, err
		}
	} else {
		in += w.publishCounts()
	}
	rows, bytes, err := PipeCopy(ctx, src, tgt, out, in, func(elapsed time.Duration, bytes int64) {
		w.d.r.emit(Event{Type: EventProgress, Address: a.Address, Action: a, Elapsed: elapsed, Bytes: bytes})
		w.d.r.recordProgress(ctx, a, 0, bytes)
	})
	if err != nil {
		return 0, bytes, err
	}
	if block {
		if err := w.commit(ctx, tgt); err != nil {
			return 0, bytes, err
		}
	}
	return rows, bytes, nil
}

// publishCounts is the statement that, added to a Query message that changes rows outside a
// transaction block, has PostgreSQL 15 and later publish the message's counts of changed rows
// before it answers (see commit); "" for older servers. It sets a flag the server reads once it is
// idle again, after the message's implicit transaction committed: the counts are published before
// the reply, at no round trip of its own.
func (w *worker) publishCounts() string {
	if w.d.r.opt.Plan.Target.VersionNum.AtLeast(15) {
		return "; SELECT pg_catalog.pg_stat_force_next_flush()"
	}
	return ""
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

// copyBuffers are the buffers pipeCopy batches rows in (batchWriter: up to 1 MiB, as large as the
// copies needed), kept between copies (a database of thousands of small tables would otherwise
// allocate one per table).
var copyBuffers = sync.Pool{New: func() any { return new(batchWriter) }}

// CopyProgressEvery is how often a running copy reports its bytes (apply_progress): the live bars
// and apply --json show them; the plain text view prints one line every StillEvery.
const CopyProgressEvery = time.Second

// PipeCopy streams COPY out on src into COPY in on tgt, connection to connection, and returns the
// rows loaded and the bytes moved. progress, when not nil, is called every CopyProgressEvery. in
// may hold more statements than the COPY (a TRUNCATE before, a SELECT after it): the rows are
// those the source sent once the target's message succeeded.
func PipeCopy(ctx context.Context, src, tgt *pgx.Conn, out, in string, progress func(elapsed time.Duration, bytes int64)) (int64, int64, error) {
	pr, pw := io.Pipe()
	cw := &countingWriter{w: pw}
	srcErr := make(chan error, 1)
	var sent int64 // rows the source sent, once srcErr has been received
	go func() {
		// CopyTo writes one message per row: batch them so the pipe hands over large blocks.
		bw := copyBuffers.Get().(*batchWriter)
		bw.Reset(cw)
		tag, err := src.PgConn().CopyTo(ctx, bw, out)
		if err == nil {
			err = bw.Flush()
		}
		bw.Reset(nil)
		copyBuffers.Put(bw)
		sent = tag.RowsAffected()
		pw.CloseWithError(err) // nil → EOF for the reader
		srcErr <- err
	}()
	stop := func() {}
	if progress != nil {
		start := time.Now()
		stop = every.Do(CopyProgressEvery, func() { progress(time.Since(start), cw.n.Load()) })
	}
	_, err := tgt.PgConn().CopyFrom(ctx, pr, in)
	stop()
	if err != nil {
		pr.CloseWithError(err)
	}
	if serr := <-srcErr; serr != nil && err == nil {
		err = fmt.Errorf("reading from the source: %w", serr)
	}
	if err != nil {
		return 0, cw.n.Load(), err
	}
	return sent, cw.n.Load(), nil
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
				return rows, bytes, fmt.Errorf("setting %s of extension %s: %w", q, c.Extension, pgio.DescribePgError(err))
			}
			continue
		}
		if _, err := tgt.Exec(ctx, fmt.Sprintf("DELETE FROM ONLY %s %s", q, c.Condition)); err != nil {
			return rows, bytes, fmt.Errorf("emptying %s of extension %s: %w", q, c.Extension, pgio.DescribePgError(err))
		}
		n, b, err := PipeCopy(ctx, src, tgt, fmt.Sprintf("COPY (SELECT * FROM ONLY %s %s) TO STDOUT", q, c.Condition), fmt.Sprintf("COPY %s FROM STDIN", q), nil)
		if err != nil {
			return rows, bytes, fmt.Errorf("copying %s of extension %s: %w", q, c.Extension, pgio.DescribePgError(err))
		}
		rows, bytes = rows+n, bytes+b
	}
	if err := w.commit(ctx, tgt); err != nil {
		return rows, bytes, err
	}
	return rows, bytes, nil
}
