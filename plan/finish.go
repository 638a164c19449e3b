package plan

import (
	"fmt"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/pgver"
)

// CarriesStatistics reports whether apply carries the source's planner statistics over to a
// target of this version with pg_dump of this release, instead of gathering them again with
// ANALYZE: the target is PostgreSQL 18 or later (pg_restore_relation_stats,
// pg_restore_attribute_stats) and pg_dump dumps them (18 or later, pgdump.DumpsStatistics).
func CarriesStatistics(target, tools pgver.V) bool {
	return target.AtLeast(18) && pgdump.DumpsStatistics(tools)
}

// StatisticsCarriable reports whether a table's statistics can be carried over where the target
// takes them (CarriesStatistics): it has no extended statistics objects (pg_dump does not dump
// their data; ANALYZE gathers it, and the columns' statistics with it), and the source has
// counted its rows (reltuples; a table never analyzed nor vacuumed there is analyzed on the
// target). apply decides finally with the dump in hand: a table whose statistics the dump lacks,
// or that the target does not take, is analyzed too.
func StatisticsCarriable(t *catalog.Table) bool {
	return !t.HasExtendedStats && t.RowEstimate >= 0
}

// analyze plans gathering the planner statistics of the database, after post-data and every
// foreign key.
func (d *dbPlanner) analyze() {
	anAddr := PartAddr(d.db, TypeAnalyze)
	if !d.need(anAddr) {
		return
	}
	a := &Action{Address: anAddr, Type: TypeAnalyze, Kind: Create, Database: d.db, Reason: "gather planner statistics (ANALYZE)",
		DependsOn: append([]string{PartAddr(d.db, TypePostData)}, d.consAddrs...)}
	if d.in.Tools != nil && d.in.Target != nil && CarriesStatistics(d.in.Target.VersionNum, d.in.Tools.Release) {
		a.Reason, a.Details = statisticsPlan(d.sdb.Tables)
	}
	d.add(a)
}

// statisticsPlan is the analyze action's reason and details where statistics are carried over.
func statisticsPlan(tables []catalog.Table) (string, []string) {
	var carried, ext, never int
	for k := range tables {
		t := &tables[k]
		switch {
		case StatisticsCarriable(t):
			carried++
		case t.HasExtendedStats:
			ext++
		default:
			never++
		}
	}
	reason := fmt.Sprintf("carry the source's planner statistics over for %s, ANALYZE %s",
		english.Count(carried, "table"), english.Count(ext+never, "table"))
	details := []string{"statistics restored with pg_restore_relation_stats and pg_restore_attribute_stats (pg_dump --statistics-only): a table's as soon as its copy, indexes and foreign keys are done, those of partitions, parents and materialized views after post-data"}
	if ext > 0 {
		details = append(details, fmt.Sprintf("ANALYZE: %s with extended statistics (CREATE STATISTICS), whose data pg_dump does not dump", english.Count(ext, "table")))
	}
	if never > 0 {
		details = append(details, fmt.Sprintf("ANALYZE: %s never analyzed on the source", english.Count(never, "table")))
	}
	details = append(details, "ANALYZE also for a table whose statistics the target does not take (a column of a type with its own statistics kinds)")
	return reason, details
}

// verify plans comparing source and target (unless verify = "none"), last: after analyze, the
// ownership changes (ownAddrs) and the large objects' contents.
func (d *dbPlanner) verify(ownAddrs []string) {
	verify := d.in.Migration.Options.Verify
	if verify == "none" {
		return
	}
	loAddr := PartAddr(d.db, TypeLargeObj)
	v := &Action{Address: PartAddr(d.db, TypeVerify), Type: TypeVerify, Kind: Create, Database: d.db, Reason: fmt.Sprintf("compare source and target (%s)", verify),
		DependsOn: append([]string{PartAddr(d.db, TypeAnalyze)}, ownAddrs...)}
	if d.sdb.LargeObjects > 0 && d.need(loAddr) {
		v.DependsOn = append(v.DependsOn, loAddr)
	}
	d.add(v)
}
