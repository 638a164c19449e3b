package plan

import (
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgver"
)

// splitParts decides how many parts a table is copied in: only tables with more than
// split_tables_larger_than of data, heap and TOAST together (parts of about that size, at most one
// per job), only with several jobs, and only from sources that scan ctid ranges efficiently (14+).
// Parts are ranges of heap pages; a row's TOAST data goes with its part, so a table whose bulk is
// in TOAST (large text, bytea, jsonb) is split by its size as well.
func splitParts(t catalog.Table, o config.Options, sourceVersion pgver.V) int {
	size, limit := t.CopySize(), o.SplitTablesLargerThan
	if limit <= 0 || o.Jobs < 2 || sourceVersion.Before(14) || size <= limit || t.Pages < 2 {
		return 0
	}
	n := int((size + limit - 1) / limit)
	return min(n, o.Jobs, int(t.Pages))
}
