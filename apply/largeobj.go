package apply

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/pgio"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/plan"
)

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
			return n, total, fmt.Errorf("emptying large object %d: %w", l.oid, pgio.DescribePgError(err))
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
		err := pgio.ReadLargeObject(ctx, src, l.oid, func(off int64, b []byte) error {
			if _, err := tgt.Exec(ctx, "SELECT pg_catalog.lo_put($1, $2, $3)", l.oid, off, b); err != nil {
				return fmt.Errorf("writing large object %d: %w", l.oid, pgio.DescribePgError(err))
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
