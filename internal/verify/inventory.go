package verify

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/pgferry/pgferry/catalog"
)

// Inventory compares the objects of two databases by name, and sequence positions.
func Inventory(db string, src, tgt *catalog.Database) []Difference {
	var diffs []Difference
	cmpSets := func(kind string, a, b map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(a)) {
			if _, ok := b[k]; !ok {
				diffs = append(diffs, Difference{Database: db, Object: kind + " " + k, Kind: "missing"})
			} else if a[k] != b[k] {
				diffs = append(diffs, Difference{Database: db, Object: kind + " " + k, Kind: "definition", Source: a[k], Target: b[k]})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(b)) {
			if _, ok := a[k]; !ok {
				diffs = append(diffs, Difference{Database: db, Object: kind + " " + k, Kind: "extra"})
			}
		}
	}
	tables := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, t := range d.Tables {
			var cols []string
			for _, c := range t.Columns {
				cols = append(cols, c.Name+" "+c.Type)
			}
			m[t.Key()] = strings.Join(cols, ", ")
		}
		return m
	}
	indexes := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, i := range d.Indexes {
			m[i.Schema+"."+i.Name] = i.Def
		}
		return m
	}
	cons := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, c := range d.Constraints {
			// Constraints the server derives from a parent's (a partition's copy, one per
			// referenced partition of a foreign key) carry names the server chooses, which
			// changed across majors (fkey1 in 15, fkey_1 in 18): their parent is compared.
			if !c.Inherited {
				m[c.Schema+"."+c.Table+"."+c.Name] = c.Def
			}
		}
		return m
	}
	seqs := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, s := range d.Sequences {
			m[s.Schema+"."+s.Name] = fmt.Sprintf("last_value=%d is_called=%t", s.LastValue, s.IsCalled)
		}
		return m
	}
	cmpSets("table", tables(src), tables(tgt))
	cmpSets("index", indexes(src), indexes(tgt))
	cmpSets("constraint", cons(src), cons(tgt))
	cmpSets("sequence", seqs(src), seqs(tgt))
	if src.LargeObjects != tgt.LargeObjects {
		diffs = append(diffs, Difference{Database: db, Object: "large objects", Kind: "count", Source: fmt.Sprint(src.LargeObjects), Target: fmt.Sprint(tgt.LargeObjects)})
	}
	kinds := map[string]bool{}
	for k := range src.Objects {
		kinds[k] = true
	}
	for k := range tgt.Objects {
		kinds[k] = true
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if src.Objects[k] != tgt.Objects[k] {
			diffs = append(diffs, Difference{Database: db, Object: strings.ReplaceAll(k, "_", " "), Kind: "count", Source: fmt.Sprint(src.Objects[k]), Target: fmt.Sprint(tgt.Objects[k])})
		}
	}
	srcExt, tgtExt := map[string]string{}, map[string]string{}
	for _, e := range src.Extensions {
		srcExt[e.Name] = e.Schema
	}
	for _, e := range tgt.Extensions {
		tgtExt[e.Name] = e.Schema
	}
	cmpSets("extension", srcExt, tgtExt)
	return diffs
}
