package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
)

func schemaDetails(d *catalog.Database) []string {
	var out []string
	if len(d.Extensions) > 0 {
		var ex []string
		for _, e := range d.Extensions {
			ex = append(ex, fmt.Sprintf("%s %s (%s)", e.Name, e.Version, e.Schema))
		}
		out = append(out, "extensions: "+strings.Join(ex, ", "))
	}
	keys := make([]string, 0, len(d.Objects))
	for k := range d.Objects {
		if d.Objects[k] > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var objs []string
	for _, k := range keys {
		kind := strings.ReplaceAll(k, "_", " ")
		if kind == "other" {
			kind = "other relations"
		}
		objs = append(objs, english.Count(d.Objects[k], english.Singular(kind)))
	}
	if len(objs) > 0 {
		out = append(out, "objects: "+strings.Join(objs, ", "))
	}
	return out
}

// schema plans pre-data (pg_dump's schemas, types, functions, tables, views), after the database
// and its extensions (extAddrs).
func (d *dbPlanner) schema(extAddrs []string) {
	if !d.need(d.schemaAddr) {
		return
	}
	a := &Action{Address: d.schemaAddr, Type: TypeSchema, Kind: Create, Database: d.db, Reason: "pre-data from pg_dump: schemas, types, functions, tables, views",
		DependsOn: append(deps(d.dbAction), extAddrs...)}
	a.Details = schemaDetails(d.sdb)
	d.add(a)
}
