package config

import (
	"errors"
	"strings"
)

// ValidateTablePattern checks a "schema.table" pattern of include_tables or
// exclude_tables: exactly one dot, a non-empty schema part and table part; '*'
// matches any run of characters and '?' one character.
func ValidateTablePattern(p string) error {
	switch n := strings.Count(p, "."); {
	case n == 0:
		return errors.New("has no dot between the schema and the table")
	case n > 1:
		return errors.New("has more than one dot")
	}
	schema, table, _ := strings.Cut(p, ".")
	if schema == "" {
		return errors.New("has an empty schema part")
	}
	if table == "" {
		return errors.New("has an empty table part")
	}
	if strings.TrimSpace(p) != p {
		return errors.New("has leading or trailing spaces")
	}
	return nil
}

// MatchTable reports whether the table schema.table matches pattern, a valid
// "schema.table" pattern. Matching is case-sensitive, as catalog names are.
func MatchTable(pattern, schema, table string) bool {
	ps, pt, ok := strings.Cut(pattern, ".")
	if !ok {
		return false
	}
	return glob(ps, schema) && glob(pt, table)
}

// IncludesTable reports whether the options select schema.table: it matches an
// include_tables pattern (or include_tables is empty) and no exclude_tables pattern.
// Partitions follow their parent: see catalog.Database.Filter, which plans use.
func (o Options) IncludesTable(schema, table string) bool {
	return o.IncludeMatch(schema, table) && !o.ExcludeMatch(schema, table)
}

// glob matches name against pattern, where '*' matches any run of characters
// (including none) and '?' exactly one; every other character matches itself.
func glob(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	pi, ni := 0, 0
	star, mark := -1, 0 // last '*' seen in p, and where in n it started matching
	for ni < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[ni]):
			pi++
			ni++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// IncludeMatch reports whether schema.table matches an include_tables pattern, or
// include_tables is empty.
func (o Options) IncludeMatch(schema, table string) bool {
	if len(o.IncludeTables) == 0 {
		return true
	}
	for _, p := range o.IncludeTables {
		if MatchTable(p, schema, table) {
			return true
		}
	}
	return false
}

// ExcludeMatch reports whether schema.table matches an exclude_tables pattern.
func (o Options) ExcludeMatch(schema, table string) bool {
	for _, p := range o.ExcludeTables {
		if MatchTable(p, schema, table) {
			return true
		}
	}
	return false
}

// Filters reports whether include_tables or exclude_tables is set.
func (o Options) Filters() bool { return len(o.IncludeTables) > 0 || len(o.ExcludeTables) > 0 }
