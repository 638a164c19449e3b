package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/snapshot"
)

// The data outside tables' rows: extensions' configuration rows, large objects' contents and
// sequences' values.

// extensionData plans the copy of the rows users added to extensions' configuration tables
// (pg_extension_config_dump): data that pg_dump's schema leaves out, and that foreign keys and
// post-data may need (dataDeps).
func (d *dbPlanner) extensionData() {
	extAddr := PartAddr(d.db, TypeExtData)
	if len(d.sdb.ExtensionConfig) == 0 || !d.need(extAddr) {
		return
	}
	var names []string
	for _, c := range d.sdb.ExtensionConfig {
		names = append(names, c.Schema+"."+c.Name)
	}
	d.add(&Action{Address: extAddr, Type: TypeExtData, Kind: Create, Database: d.db,
		Reason:    fmt.Sprintf("copy the user rows of %s", english.Count(len(d.sdb.ExtensionConfig), "extension configuration relation")),
		Details:   []string{strings.Join(names, ", ")},
		DependsOn: []string{d.schemaAddr}})
	d.dataDeps = []string{extAddr}
}

// largeObjects plans the copy of the large objects' contents. pg_dump's pre-data creates them,
// with owners and privileges, empty: their contents are data, streamed from the snapshot like a
// table's rows.
func (d *dbPlanner) largeObjects() {
	loAddr := PartAddr(d.db, TypeLargeObj)
	if d.need(loAddr) && d.sdb.LargeObjects > 0 {
		d.add(&Action{Address: loAddr, Type: TypeLargeObj, Kind: Create, Database: d.db, Reason: fmt.Sprintf("copy the contents of %s", english.Count(d.sdb.LargeObjects, "large object")),
			RowsEstimate: d.sdb.LargeObjects, DependsOn: []string{d.schemaAddr}})
	}
}

// sequences plans setting the sequences to their source values.
func (d *dbPlanner) sequences() {
	seqAddr := PartAddr(d.db, TypeSequences)
	if d.need(seqAddr) && len(d.sdb.Sequences) > 0 {
		d.add(&Action{Address: seqAddr, Type: TypeSequences, Kind: Create, Database: d.db, Reason: fmt.Sprintf("set %d sequences to their source values", len(d.sdb.Sequences)), DependsOn: []string{d.schemaAddr}})
	}
}

// Table data crosses the wire in COPY's binary or text format (copy_format). Binary costs the
// servers less CPU (no numbers printed and parsed: text COPY took 7% more target CPU on the
// loopback pgbench, docs/benchmarks.md) but is larger for narrow numeric rows (an int4 is 4 bytes
// plus a 4-byte length in binary, often 1-2 characters plus a tab in text: pgbench_accounts
// streams 114 MB in binary, 96 MB in text); it is smaller for bytea (text doubles it in hex) and
// about even for text columns. Binary is used only where it is safe (catalog.Column.Builtin).

const (
	// CopySampleMinBytes is the data size (catalog.Table.CopySize) from which copy_format = "auto"
	// samples a table: below it the copy is bound by round trips, not by bytes, and binary is kept.
	CopySampleMinBytes = 16 << 20
	// CopySampleMaxTables bounds the tables sampled per database, the largest first: each sample
	// costs two round trips and a few pages read at plan time. The others are copied in binary.
	CopySampleMaxTables = 32
	// CopySamplePages is the number of heap pages a sample reads (TABLESAMPLE SYSTEM), and
	// CopySampleMaxBytes about the most data it streams (its rows are limited by the table's
	// average row size).
	CopySamplePages    = 64
	CopySampleMaxBytes = 1 << 20
	// CopyTextMargin is how much smaller, in percent, text must stream a table than binary for
	// copy_format = "auto" to choose it. Close sizes keep binary: its CPU advantage (about 7% of the
	// target's CPU) is worth more than a few percent of bytes unless the link is the bottleneck,
	// and a sample's size ratio can be off by a few percent. A table that text shrinks by more than
	// this gains more on a capped link than binary would save on an uncapped one.
	CopyTextMargin = 10
	// CopyLinkMargin is how many times slower than the samples' binary pace (the source's COPY,
	// snapshot.CopyBytesPerSec) the link must carry bytes (snapshot.LinkBytesPerSec) for
	// copy_format = "auto" to choose text, the smaller: then the link clearly bounds the copy. The
	// two mistakes cost unlike: text's COPY takes 2 to 2.5 times binary's CPU end to end
	// (pgbench_accounts on loopback: 3 s against 1.6 s on a quiet machine, 10 s against 4 s on a
	// busy one), so text on a link that does not bound the copy takes up to 2.5 times as long,
	// while binary on one that does takes at most its bytes over text's (pgbench_accounts: 19%
	// more). Text is faster only where the link carries binary's bytes slower than text's CPU
	// streams them, about half binary's pace: under that, text; at or over it, binary.
	CopyLinkMargin = 2
)

// BinarySafe reports whether table t's rows may be copied in binary: every column it copies
// (generated ones are not) has a type whose binary form is the same on both servers. unsafe is the
// first column that has none.
func BinarySafe(t catalog.Table) (ok bool, unsafe catalog.Column) {
	for _, c := range t.Columns {
		if !c.Generated && !c.Builtin {
			return false, c
		}
	}
	return true, catalog.Column{}
}

// copyColumnsOf counts the columns a copy of t moves.
func copyColumnsOf(t catalog.Table) int {
	n := 0
	for _, c := range t.Columns {
		if !c.Generated {
			n++
		}
	}
	return n
}

// CopySampled lists the tables of sdb whose format copy_format o.CopyFormat decides by a sample:
// with "auto", the CopySampleMaxTables largest plain tables from CopySampleMinBytes that are safe
// in binary (an unsafe one goes in text anyway) and have columns to copy.
func CopySampled(o config.Options, sdb *catalog.Database) []catalog.Table {
	if o.CopyFormat != config.CopyFormatAuto && o.CopyFormat != "" {
		return nil
	}
	var out []catalog.Table
	for _, t := range sdb.Tables {
		if ok, _ := BinarySafe(t); ok && t.Kind == "r" && t.CopySize() >= CopySampleMinBytes && copyColumnsOf(t) > 0 {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CopySize() > out[j].CopySize() })
	return out[:min(len(out), CopySampleMaxTables)]
}

// CopySampleRows is the most rows a sample of t streams: about CopySampleMaxBytes of its average
// row, between 100 and 5,000.
func CopySampleRows(t catalog.Table) int64 {
	if t.RowEstimate <= 0 {
		return 1000
	}
	avg := max(t.CopySize()/t.RowEstimate, 1)
	return min(max(CopySampleMaxBytes/avg, 100), 5000)
}

// TextSmaller reports whether a sample says text streams the table enough smaller than binary
// (by more than CopyTextMargin percent) to be chosen.
func TextSmaller(s snapshot.CopySample) bool {
	return s.Err == "" && s.Rows > 0 && s.Text*100 < s.Binary*(100-CopyTextMargin)
}

// copyFormat decides the COPY format of table t and the detail line that says why, "" when there
// is nothing to say (binary, as it always was, for a table not sampled). Apply follows
// Action.CopyFormat (a plan without it: binary where safe).
func (d *dbPlanner) copyFormat(t catalog.Table) (format, detail string) {
	if copyColumnsOf(t) == 0 {
		return "", "" // no COPY: the rows of a table without columns are counted and inserted
	}
	o := d.in.Migration.Options
	if o.CopyFormat == config.CopyFormatText {
		return config.CopyFormatText, ""
	}
	if ok, c := BinarySafe(t); !ok {
		return config.CopyFormatText, fmt.Sprintf("copy format: text (column %s is of type %s, whose binary form is not safe between servers)", c.Name, c.Type)
	}
	if o.CopyFormat == config.CopyFormatBinary {
		return config.CopyFormatBinary, ""
	}
	s, sampled := d.in.CopySamples[d.db][t.Key()]
	switch {
	case !sampled:
		return config.CopyFormatBinary, ""
	case s.Err != "":
		return config.CopyFormatBinary, "copy format: binary (the sample failed: " + s.Err + ")"
	case s.Rows == 0:
		return config.CopyFormatBinary, "copy format: binary (the sample found no rows)"
	}
	ratio := fmt.Sprintf("a sample of %s: text %s, binary %s (text %d%% of binary)",
		english.Count(s.Rows, "row"), sampleBytes(s.Text), sampleBytes(s.Binary), (s.Text*100+s.Binary/2)/max(s.Binary, 1))
	if TextSmaller(s) {
		link, cp := d.in.LinkBytesPerSec, d.in.CopyBytesPerSec
		switch {
		case link <= 0 || cp <= 0:
			return config.CopyFormatBinary, "copy format: binary, cheaper on CPU: the link's speed was not measured, so bytes are not known to bound the copy; " + ratio
		case LinkBoundsCopy(link, cp):
			return config.CopyFormatText, fmt.Sprintf("copy format: text, smaller on the wire: the link carried %s, under 1/%d of the source's COPY pace (%s), so bytes bound the copy; %s",
				rate(link), CopyLinkMargin, rate(cp), ratio)
		}
		return config.CopyFormatBinary, fmt.Sprintf("copy format: binary, cheaper on CPU: the link carried %s, not under 1/%d of the source's COPY pace (%s), so bytes do not clearly bound the copy; %s",
			rate(link), CopyLinkMargin, rate(cp), ratio)
	}
	return config.CopyFormatBinary, fmt.Sprintf("copy format: binary, cheaper on CPU and text not %d%% smaller: %s", CopyTextMargin, ratio)
}

// LinkBoundsCopy reports whether the link, carrying link bytes per second, is clearly slower
// (CopyLinkMargin times) than the source streams binary COPY (copy bytes per second, the samples'
// pace, on the same machines under the same load): only then do bytes bound the copies, and text,
// smaller, is worth its CPU. False when either is not measured (0): binary, the cheaper mistake.
func LinkBoundsCopy(link, copy int64) bool {
	return link > 0 && copy > 0 && link*CopyLinkMargin < copy
}

// rate prints a speed in MB/s.
func rate(bps int64) string { return fmt.Sprintf("%.1f MB/s", float64(bps)/1e6) }

// sampleBytes prints a sample's size: bytes up to 10 kB, then kB.
func sampleBytes(n int64) string {
	if n < 10_000 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%d kB", (n+500)/1000)
}

// setCopyFormat records in a, the copy of table t, its COPY format and why (copyFormat).
func (d *dbPlanner) setCopyFormat(a *Action, t catalog.Table) {
	var detail string
	a.CopyFormat, detail = d.copyFormat(t)
	if detail != "" {
		a.Details = append(a.Details, detail)
	}
}
