package plan

import (
	"fmt"

	"github.com/pgferry/pgferry/catalog"
)

// extensions plans one action per extension of the source database that the target database
// will not have when pre-data runs, in an order where each follows the extensions it requires, and
// returns their addresses. Each runs pg_dump's CREATE EXTENSION (with its comment, and the schema it
// is installed in when that does not exist yet) before pre-data, whose types, functions and columns
// may use it; one after the other, as two may share a schema that the first creates.
//
// A database pgferry creates comes from template0 and has plpgsql; a database that exists (empty)
// has what its pg_extension lists. A database an interrupted run of this migration worked in gets
// what the state does not record as applied, and what it lacks.
func (d *dbPlanner) extensions() []string {
	in, db, sdb, tdb, dbAction := d.in, d.db, d.sdb, d.tdb, d.dbAction
	have := map[string]bool{"plpgsql": true}
	if tdb != nil && (dbAction == nil || dbAction.Kind == Update) {
		have = map[string]bool{}
		for _, e := range tdb.Extensions {
			have[e.Name] = true
		}
	}
	var addrs []string
	for _, e := range OrderExtensions(sdb.Extensions) {
		addr := ExtensionAddr(db, e.Name)
		if !d.need(addr) {
			continue
		}
		if have[e.Name] && (dbAction != nil || in.State == nil || in.State.Action(addr) == nil) {
			// On a resumed run, one the state lists as unfinished is planned again even when it
			// exists (created before the run stopped): its action is what completes the database.
			continue
		}
		a := &Action{Address: addr, Type: TypeExtension, Kind: Create, Database: db, Name: e.Name, Schema: e.Schema,
			Reason:    fmt.Sprintf("CREATE EXTENSION %s from pg_dump, before pre-data (which may use its types and functions)", e.Name),
			Details:   []string{fmt.Sprintf("version %s, schema %s", e.Version, e.Schema)},
			DependsOn: deps(dbAction)}
		if def := in.Target.DefaultExtensionVersions[e.Name]; def != "" && def != e.Version {
			a.Details = append(a.Details, fmt.Sprintf("created at the target's default version %s", def))
		}
		for _, r := range e.Requires {
			if ra := ExtensionAddr(db, r); contains(addrs, ra) {
				a.DependsOn = appendUnique(a.DependsOn, ra)
			}
		}
		if len(addrs) > 0 {
			a.DependsOn = appendUnique(a.DependsOn, addrs[len(addrs)-1])
		}
		d.add(a)
		addrs = append(addrs, addr)
	}
	return addrs
}

// OrderExtensions puts each extension after those it requires, otherwise keeping the order given.
func OrderExtensions(exts []catalog.Extension) []catalog.Extension {
	byName := map[string]int{}
	for i, e := range exts {
		byName[e.Name] = i
	}
	out := make([]catalog.Extension, 0, len(exts))
	state := make([]int, len(exts)) // 0 unvisited, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return // done, or a cycle (which CREATE EXTENSION cannot have): keep the given order
		}
		state[i] = 1
		for _, r := range exts[i].Requires {
			if j, ok := byName[r]; ok {
				visit(j)
			}
		}
		state[i] = 2
		out = append(out, exts[i])
	}
	for i := range exts {
		visit(i)
	}
	return out
}
