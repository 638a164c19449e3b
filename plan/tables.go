package plan

import (
	"fmt"
	"sort"

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

// tables plans the copy of each plain table's rows, largest first so that the long copies start
// early, and of its parts when it is split (splitParts). A split table's own action empties it;
// its parts wait for that.
//
// The tables' actions, and their lists of one dependency, come from arrays of up to 512 (slab):
// two allocations per 512 tables instead of two per table (512 actions of 272 bytes fill 17 pages
// exactly).
func (d *dbPlanner) tables() {
	tables := append([]catalog.Table(nil), d.sdb.Tables...)
	size := min(512, max(len(tables), 1))
	d.tableActions, d.tableDeps1 = slab[Action]{size: size}, slab[string]{size: size}
	// Largest first: the long copies start early.
	sort.SliceStable(tables, func(i, j int) bool { return tables[i].SizeBytes > tables[j].SizeBytes })
	for _, t := range tables {
		if t.Kind != "r" {
			continue
		}
		addr := TableAddr(d.db, t.Schema, t.Name)
		parts := splitParts(t, d.in.Migration.Options, d.in.Source.VersionNum)
		var partAddrs []string
		for i := 1; i <= parts; i++ {
			partAddrs = append(partAddrs, TablePartAddr(d.db, t.Schema, t.Name, i))
		}
		// What the rest of the database waits for: the table, or all of its parts.
		if parts > 0 {
			d.tableAddrs = append(d.tableAddrs, partAddrs...)
			d.copyAddrs[t.Key()] = partAddrs
		} else {
			d.tableAddrs = append(d.tableAddrs, addr)
			d.copyAddrs[t.Key()] = []string{addr}
		}
		done := !d.need(addr)
		for _, pa := range partAddrs {
			// A split table is reloaded whole unless every part finished: its parts cannot be
			// told apart on the target.
			done = done && !d.need(pa)
		}
		if !done {
			d.table(t, addr, partAddrs)
		}
	}
}

// table adds the copy of table t at addr and of its parts (partAddrs), if any.
func (d *dbPlanner) table(t catalog.Table, addr string, partAddrs []string) {
	parts := len(partAddrs)
	rows := max(t.RowEstimate, 0)
	a, deps := d.tableActions.next(), d.tableDeps1.take(d.schemaAddr)
	*a = Action{Address: addr, Type: TypeTable, Kind: Create, Database: d.db, Schema: t.Schema, Name: t.Name, Reason: "copy rows",
		RowsEstimate: rows, BytesEstimate: t.SizeBytes, DependsOn: deps, Parts: parts}
	if t.RowEstimate < 0 {
		a.Details = append(a.Details, "never analyzed on the source: row estimate unknown")
	}
	if t.Unlogged {
		a.Details = append(a.Details, "unlogged table")
	}
	if parts > 0 {
		a.Reason = fmt.Sprintf("copy rows in %d parts", parts)
	}
	d.setCopyFormat(a, t)
	d.add(a)
	for i := 1; i <= parts; i++ {
		from, to := t.Pages*int64(i-1)/int64(parts), t.Pages*int64(i)/int64(parts)
		if i == parts {
			to = 0 // the last part takes every page beyond the estimate too
		}
		d.add(&Action{Address: partAddrs[i-1], Type: TypeTablePart, Kind: Create, Database: d.db, Schema: t.Schema, Name: t.Name,
			Reason: fmt.Sprintf("copy part %d of %d", i, parts), RowsEstimate: rows / int64(parts), BytesEstimate: t.SizeBytes / int64(parts),
			DependsOn: []string{addr}, Part: i, Parts: parts, PageFrom: from, PageTo: to, CopyFormat: a.CopyFormat})
	}
}

// tableDeps is what an object on a table waits for: the table's copy (or all its parts), or
// pre-data for a table without rows of its own to copy (a partitioned one).
func (d *dbPlanner) tableDeps(schema, name string) []string {
	if deps := d.copyAddrs[schema+"."+name]; len(deps) > 0 {
		return append([]string(nil), deps...)
	}
	return []string{d.schemaAddr}
}

// slab hands out the elements of arrays of size (made as needed) one at a time: many small objects
// that live as long as each other in one allocation per size.
type slab[T any] struct {
	block []T
	size  int
}

// next is a new zero element.
func (s *slab[T]) next() *T {
	if len(s.block) == cap(s.block) {
		s.block = make([]T, 0, max(s.size, 1))
	}
	s.block = s.block[:len(s.block)+1]
	return &s.block[len(s.block)-1]
}

// take is a list of the one element v; what is appended to it is copied.
func (s *slab[T]) take(v T) []T {
	p := s.next()
	*p = v
	n := len(s.block)
	return s.block[n-1 : n : n]
}
