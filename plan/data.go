package plan

import (
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/internal/english"
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
