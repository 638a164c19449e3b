package apply

import (
	"slices"
	"strings"

	"github.com/pgferry/pgferry/catalog"
)

// compactCatalog shrinks the source catalog a run holds while it runs (at 20,000 tables, tens of
// megabytes): every string the catalog repeats (schema, owner, kind, method, type, a table's name
// in each of its indexes and constraints) is kept once, and each list is copied to its length
// (what the reads appended to may be up to twice as long). What it holds is unchanged.
func compactCatalog(d *catalog.Database) {
	strs := interner{}
	in := func(p *string) { *p = strs.of(*p) }
	for k := range d.Tables {
		t := &d.Tables[k]
		for _, p := range []*string{&t.Schema, &t.Name, &t.Owner, &t.Kind, &t.Parent} {
			in(p)
		}
		for c := range t.Columns {
			col := &t.Columns[c]
			in(&col.Name)
			in(&col.Type)
			in(&col.Collation)
		}
		t.Columns = exact(t.Columns)
	}
	for k := range d.Indexes {
		ix := &d.Indexes[k]
		for _, p := range []*string{&ix.Schema, &ix.Table, &ix.Method, &ix.Constraint} {
			in(p)
		}
	}
	for k := range d.Constraints {
		c := &d.Constraints[k]
		for _, p := range []*string{&c.Schema, &c.Table, &c.Type, &c.RefTable} {
			in(p)
		}
	}
	for k := range d.Sequences {
		in(&d.Sequences[k].Schema)
	}
	d.Tables = exact(d.Tables)
	d.Indexes = exact(d.Indexes)
	d.Constraints = exact(d.Constraints)
	d.Sequences = exact(d.Sequences)
}

// interner keeps one copy of each string it is given.
type interner map[string]string

// of returns the copy of s kept, keeping a copy of s (not sharing the memory of whatever s was cut
// from) the first time.
func (in interner) of(s string) string {
	if s == "" {
		return s
	}
	if c, ok := in[s]; ok {
		return c
	}
	c := strings.Clone(s)
	in[c] = c
	return c
}

// exact is s in an array of its length, when the one it is in is longer.
func exact[S ~[]E, E any](s S) S {
	if cap(s) == len(s) {
		return s
	}
	return slices.Clone(s)
}
