package plan

import "fmt"

// indexes plans the build of each index of the database (those of constraints too: primary keys,
// unique and exclusion constraints), after its table's rows.
func (d *dbPlanner) indexes() {
	for _, ix := range d.sdb.Indexes {
		addr := IndexAddr(d.db, ix.Schema, ix.Name)
		d.indexAddrs = append(d.indexAddrs, addr)
		if !d.need(addr) {
			continue
		}
		what := "index"
		switch ix.Constraint {
		case "p":
			what = "primary key"
		case "u":
			what = "unique constraint"
		case "x":
			what = "exclusion constraint"
		}
		d.add(&Action{Address: addr, Type: TypeIndex, Kind: Create, Database: d.db, Schema: ix.Schema, Name: ix.Name, Table: ix.Table,
			Reason: fmt.Sprintf("build %s %s on %s", ix.Method, what, ix.Table), BytesEstimate: ix.SizeBytes,
			DependsOn: d.tableDeps(ix.Schema, ix.Table), SourceOID: ix.OID, ConstraintOID: ix.ConstraintOID})
	}
}

// uniqueIndexes lists, per table key, the addresses of its unique indexes: what a foreign key
// referencing the table waits for.
func (d *dbPlanner) uniqueIndexes() map[string][]string {
	out := map[string][]string{}
	for _, ix := range d.sdb.Indexes {
		if ix.Unique {
			k := ix.Schema + "." + ix.Table
			out[k] = append(out[k], IndexAddr(d.db, ix.Schema, ix.Name))
		}
	}
	return out
}
