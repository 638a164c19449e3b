package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// digestLen is the length in hex digits of one entry of a Digest: 64 bits, enough to tell two
// versions of one object apart, small enough for a plan of 100k tables.
const digestLen = 12

func shortHash(lines []string) string {
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:digestLen]
}

// Digest hashes what a saved plan depends on in a database, one entry per object, so that a stale
// plan can name what changed: "table public.orders" (its columns, indexes and constraints),
// "extension pgcrypto", and one entry each for its sequences and the counts of its other objects.
func (d *Database) Digest() map[string]string {
	out := map[string]string{}
	perTable := map[string][]string{}
	for _, t := range d.Tables {
		lines := []string{fmt.Sprintf("t %s %d", t.Kind, len(t.Columns))}
		for _, c := range t.Columns {
			lines = append(lines, fmt.Sprintf(" c %s %s", c.Name, c.Type))
		}
		perTable[t.Key()] = lines
	}
	for _, ix := range d.Indexes {
		k := ix.Schema + "." + ix.Table
		perTable[k] = append(perTable[k], fmt.Sprintf("i %s %s", ix.Name, ix.Def))
	}
	for _, c := range d.Constraints {
		k := c.Schema + "." + c.Table
		perTable[k] = append(perTable[k], fmt.Sprintf("c %s %s", c.Name, c.Def))
	}
	for k, lines := range perTable {
		sort.Strings(lines[1:])
		out["table "+k] = shortHash(lines)
	}
	for _, e := range d.Extensions {
		out["extension "+e.Name] = shortHash([]string{e.Version, e.Schema})
	}
	var seqs []string
	for _, s := range d.Sequences {
		seqs = append(seqs, s.Schema+"."+s.Name)
	}
	sort.Strings(seqs)
	out["sequences"] = shortHash(seqs)
	var objs []string
	for k, n := range d.Objects {
		objs = append(objs, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(objs)
	out["other objects"] = shortHash(objs)
	return out
}

// DigestChanges names the entries that differ between two digests, sorted: "table public.t
// (created)", "(dropped)", "(altered)".
func DigestChanges(before, now map[string]string) []string {
	var out []string
	for k, v := range now {
		switch w, ok := before[k]; {
		case !ok:
			out = append(out, k+" (created)")
		case w != v:
			out = append(out, k+" (altered)")
		}
	}
	for k := range before {
		if _, ok := now[k]; !ok {
			out = append(out, k+" (dropped)")
		}
	}
	sort.Strings(out)
	return out
}

// ObjectRef names one object of a database's inventory: its kind ("table", "index",
// "constraint", "sequence", "extension"), schema, table (constraints) and name.
type ObjectRef struct {
	Kind, Schema, Table, Name string
}

// String is "table public.orders", "constraint public.orders.orders_pkey", "extension hstore".
func (o ObjectRef) String() string {
	parts := []string{}
	for _, p := range []string{o.Schema, o.Table, o.Name} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return o.Kind + " " + strings.Join(parts, ".")
}

// inventory is what SameObjects compares: every table, index, constraint (not inherited ones),
// sequence and extension, by name.
func inventory(d *Database) map[string]ObjectRef {
	m := map[string]ObjectRef{}
	add := func(o ObjectRef) { m[o.String()] = o }
	for _, t := range d.Tables {
		add(ObjectRef{Kind: "table", Schema: t.Schema, Name: t.Name})
	}
	for _, i := range d.Indexes {
		add(ObjectRef{Kind: "index", Schema: i.Schema, Name: i.Name})
	}
	for _, c := range d.Constraints {
		if !c.Inherited { // derived ones are named by the server, differently across majors
			add(ObjectRef{Kind: "constraint", Schema: c.Schema, Table: c.Table, Name: c.Name})
		}
	}
	for _, s := range d.Sequences {
		add(ObjectRef{Kind: "sequence", Schema: s.Schema, Name: s.Name})
	}
	for _, e := range d.Extensions { // by name: a newer target may have a newer default version
		add(ObjectRef{Kind: "extension", Name: e.Name})
	}
	return m
}

// ObjectDiff lists the objects only src holds and those only tgt holds, each sorted by name.
func ObjectDiff(src, tgt *Database) (onlySource, onlyTarget []ObjectRef) {
	a, b := inventory(src), inventory(tgt)
	for k, o := range a {
		if _, ok := b[k]; !ok {
			onlySource = append(onlySource, o)
		}
	}
	for k, o := range b {
		if _, ok := a[k]; !ok {
			onlyTarget = append(onlyTarget, o)
		}
	}
	byName := func(s []ObjectRef) {
		sort.Slice(s, func(i, j int) bool { return s[i].String() < s[j].String() })
	}
	byName(onlySource)
	byName(onlyTarget)
	return onlySource, onlyTarget
}
