package plan

import "strings"

// foreignKeysAndPostData plans the foreign keys and the rest of post-data. Foreign keys need both
// tables' rows and the referenced key's unique indexes. Those on plain tables run before the rest
// of post-data, overlapping with index builds (and never beside post-data's transaction, whose
// locks they could deadlock with; post-data may also comment on them). Those on or to a
// partitioned table run after it: their referenced key is complete only once post-data attached
// the partitions' indexes.
func (d *dbPlanner) foreignKeysAndPostData() {
	early, late := d.foreignKeys()
	for _, a := range early {
		d.add(a)
	}
	d.postData(early)
	for _, a := range late {
		d.add(a)
	}
}

// foreignKeys returns the actions of the foreign keys to add, those that run before post-data
// (early) and those that run after it (late), and records every foreign key's address in
// consAddrs. Inherited ones come with their parent's.
func (d *dbPlanner) foreignKeys() (early, late []*Action) {
	postAddr := PartAddr(d.db, TypePostData)
	partitioned := map[string]bool{}
	for _, t := range d.sdb.Tables {
		if t.Kind == "p" {
			partitioned[t.Key()] = true
		}
	}
	uniqueIndexes := d.uniqueIndexes()
	for _, c := range d.sdb.Constraints {
		if c.Type != "f" || c.Inherited {
			continue
		}
		addr := ConstraintAddr(d.db, c.Schema, c.Table, c.Name)
		d.consAddrs = append(d.consAddrs, addr)
		isLate := partitioned[c.Schema+"."+c.Table] || partitioned[c.RefTable]
		if !d.need(addr) {
			continue
		}
		a := &Action{Address: addr, Type: TypeConstraint, Kind: Create, Database: d.db, Schema: c.Schema, Name: c.Name, Table: c.Table,
			Reason: "add foreign key " + c.Def, SourceOID: c.OID}
		a.DependsOn = append(d.tableDeps(c.Schema, c.Table), d.dataDeps...)
		if rs, rn, ok := strings.Cut(c.RefTable, "."); ok {
			for _, dep := range d.tableDeps(rs, rn) {
				a.DependsOn = appendUnique(a.DependsOn, dep)
			}
			for _, ia := range uniqueIndexes[rs+"."+rn] {
				a.DependsOn = appendUnique(a.DependsOn, ia)
			}
		}
		if isLate {
			if d.need(postAddr) {
				a.DependsOn = append(a.DependsOn, postAddr)
			}
			late = append(late, a)
		} else {
			early = append(early, a)
		}
	}
	return early, late
}

// postData plans the rest of pg_dump's post-data, after pre-data, the extension configuration
// rows, every table's rows, every index and the foreign keys that run before it (earlyFKs).
func (d *dbPlanner) postData(earlyFKs []*Action) {
	postAddr := PartAddr(d.db, TypePostData)
	if !d.need(postAddr) {
		return
	}
	a := &Action{Address: postAddr, Type: TypePostData, Kind: Create, Database: d.db,
		Reason:    "rest of post-data from pg_dump: triggers, rules, policies, materialized view data, index attachments, comments, privileges",
		DependsOn: append(append(append([]string{d.schemaAddr}, d.dataDeps...), d.tableAddrs...), d.indexAddrs...)}
	for _, fk := range earlyFKs {
		a.DependsOn = append(a.DependsOn, fk.Address)
	}
	d.add(a)
}
