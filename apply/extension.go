package apply

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/plan"
)

// Extensions.
//
// Each extension the target database lacks has an action of its own, before pre-data: it runs
// pg_dump's entries for it (the CREATE SCHEMA of the schema it is installed in when that does not
// exist yet, CREATE EXTENSION IF NOT EXISTS, its comment) in one transaction, so a retried or
// resumed action finds it either absent or complete. Pre-data leaves those entries out (source.go,
// splitExtensions). The schema action first creates whatever extension is still missing: after it
// recreated a database an interrupted run left objects in (ensureEmpty), the extensions the state
// records as created are gone with it.

var createSchema = regexp.MustCompile(`(?m)^CREATE SCHEMA `)

// extension is the apply action of one extension.
func (w *worker) extension(ctx context.Context, a *plan.Action) error {
	e := w.d.sourceExtension(a.Name)
	if e == nil {
		return fmt.Errorf("extension %s no longer exists in the source database", a.Name)
	}
	c, err := openTargetConn(ctx, w.d)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return w.d.createExtension(ctx, c, *e)
}

func (d *dbRun) sourceExtension(name string) *catalog.Extension {
	for k := range d.src.Extensions {
		if d.src.Extensions[k].Name == name {
			return &d.src.Extensions[k]
		}
	}
	return nil
}

// createExtension creates one extension on c (connected to the target database) from pg_dump's
// entries, in one transaction, committed with c's settings. Nothing it runs fails on an object
// that exists already.
func (d *dbRun) createExtension(ctx context.Context, c *pgx.Conn, e catalog.Extension) (err error) {
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, failed, err := execStatements(ctx, c, d.prePreamble); err != nil {
		return newStatementError("applying", "pg_restore's session settings", d.prePreamble, failed, err)
	}
	x := d.extensions[e.OID]
	if x == nil {
		// pg_dump leaves out the extensions initdb created (plpgsql): a database that exists
		// may have dropped them.
		stmt := fmt.Sprintf("CREATE EXTENSION IF NOT EXISTS %s WITH SCHEMA %s", ident(e.Name), ident(e.Schema))
		if _, err := c.Exec(ctx, stmt); err != nil {
			return newStatementError("creating", "extension "+quoteName(e.Name), stmt, stmt, err)
		}
		_, err := c.Exec(ctx, "COMMIT")
		return err
	}
	if len(x.schema) > 0 {
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", e.Schema).Scan(&exists); err != nil {
			return err
		}
		for _, ch := range x.schema {
			// A schema that exists was created by this entry already (by the extension action that
			// needed it first). pg_dump's entry for public creates nothing (initdb did) and only
			// sets its owner: that always runs.
			if exists && createSchema.MatchString(ch.SQL) {
				continue
			}
			if _, failed, err := execStatements(ctx, c, ch.SQL); err != nil {
				return chunkError(ch, failed, err)
			}
		}
	}
	for _, ch := range append([]pgdump.Chunk{x.create}, x.comments...) {
		if _, failed, err := execStatements(ctx, c, ch.SQL); err != nil {
			return chunkError(ch, failed, err)
		}
	}
	_, err = c.Exec(ctx, "COMMIT")
	return err
}

// ensureExtensions creates, before pre-data, every extension of the source database the target
// database lacks, in an order where each follows those it requires. Normally the extension actions
// created them all; not when the database was recreated since (ensureEmpty).
func (d *dbRun) ensureExtensions(ctx context.Context) error {
	c, err := openTargetConn(ctx, d)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	rows, err := c.Query(ctx, "SELECT extname::text FROM pg_catalog.pg_extension")
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var created []string
	for _, e := range plan.OrderExtensions(d.src.Extensions) {
		if have[e.Name] {
			continue
		}
		if err := d.createExtension(ctx, c, e); err != nil {
			return fmt.Errorf("creating extension %s: %w", e.Name, err)
		}
		created = append(created, e.Name)
	}
	if len(created) > 0 {
		d.r.emit(Event{Type: EventMessage, Message: fmt.Sprintf("Database %q lacked %s %s: created before pre-data", d.db, english.Noun(int64(len(created)), "extension"), strings.Join(created, ", "))})
	}
	return nil
}
