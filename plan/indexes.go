package plan

import "fmt"

// indexes plans the build of each index of the database (those of constraints too: primary keys,
// unique and exclusion constraints), after its table's rows.
//
// The actions, and the lists of what they depend on, are made in one array each, as long as needed:
// two allocations instead of two per index (at 20,000 tables, 40,000 actions of 272 bytes each,
// which the allocator rounds up to 288, and as many lists of one address).
func (d *dbPlanner) indexes() {
	start := len(d.indexAddrs)
	for _, ix := range d.sdb.Indexes {
		d.indexAddrs = append(d.indexAddrs, IndexAddr(d.db, ix.Schema, ix.Name))
	}
	n, ndeps := 0, 0
	for k, addr := range d.indexAddrs[start:] {
		if d.need(addr) {
			n++
			ndeps += max(len(d.copyAddrs[d.sdb.Indexes[k].Schema+"."+d.sdb.Indexes[k].Table]), 1)
		}
	}
	actions, deps := make([]Action, n), make([]string, 0, ndeps)
	for k, ix := range d.sdb.Indexes {
		addr := d.indexAddrs[start+k]
		if !d.need(addr) {
			continue
		}
		from := len(deps)
		if copies := d.copyAddrs[ix.Schema+"."+ix.Table]; len(copies) > 0 {
			deps = append(deps, copies...)
		} else {
			deps = append(deps, d.schemaAddr)
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
		a := &actions[len(actions)-n]
		n--
		*a = Action{Address: addr, Type: TypeIndex, Kind: Create, Database: d.db, Schema: ix.Schema, Name: ix.Name, Table: ix.Table,
			Reason: fmt.Sprintf("build %s %s on %s", ix.Method, what, ix.Table), BytesEstimate: ix.SizeBytes,
			DependsOn: deps[from:len(deps):len(deps)], SourceOID: ix.OID, ConstraintOID: ix.ConstraintOID} // what is appended to it is copied
		d.add(a)
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
