package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/verify"
)

// verify is the apply action: compare this database within the snapshot.
func (d *dbRun) verify(ctx context.Context) error {
	mode := d.r.m.Options.Verify
	diffs, _, err := verify.CompareDatabase(ctx, d.db, d.src, d.r.opt.Plan.Source.VersionNum, d.r.m.Options, mode, d.r.opt.Jobs,
		func(ctx context.Context) (*pgx.Conn, error) { return openSnapshotConn(ctx, d) },
		func(ctx context.Context) (*pgx.Conn, error) { return openTargetConn(ctx, d) })
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		var lines []string
		for i, df := range diffs {
			if i == 20 {
				lines = append(lines, fmt.Sprintf("... and %d more (run pgferry verify)", len(diffs)-20))
				break
			}
			lines = append(lines, df.String())
		}
		return fmt.Errorf("verification found %s:\n  %s", english.Count(len(diffs), "difference"), strings.Join(lines, "\n  "))
	}
	return nil
}
