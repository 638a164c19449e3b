// Package english writes counts the way people read them: "1 table", "2 tables", "1 index has",
// "3 indexes have". Every message that prints a count of things goes through it, so that no
// output reads "1 enums" or "table(s)".
package english

import (
	"fmt"
	"strings"
)

// Plural is the plural of a singular noun phrase: its last word gets -es after s, x, z, ch and sh,
// -ies after a consonant and y, and -s otherwise ("index" → "indexes", "policy" → "policies",
// "extension configuration table" → "extension configuration tables"). Irregular nouns are given
// with Count's many argument.
func Plural(one string) string {
	last := one[strings.LastIndex(one, " ")+1:]
	if p, ok := irregular[last]; ok {
		return one[:len(one)-len(last)] + p
	}
	switch {
	case one == "":
		return ""
	case strings.HasSuffix(one, "s"), strings.HasSuffix(one, "x"), strings.HasSuffix(one, "z"),
		strings.HasSuffix(one, "ch"), strings.HasSuffix(one, "sh"):
		return one + "es"
	case strings.HasSuffix(one, "y") && len(one) > 1 && !strings.ContainsRune("aeiou", rune(one[len(one)-2])):
		return one[:len(one)-1] + "ies"
	}
	return one + "s"
}

// irregular are the plurals the rules of Plural get wrong.
var irregular = map[string]string{"standby": "standbys", "schema": "schemas", "data": "data"}

// Singular is the singular of a plural noun phrase that Plural makes ("enums" → "enum",
// "indexes" → "index", "policies" → "policy"), for counts kept under their plural name.
func Singular(many string) string {
	last := many[strings.LastIndex(many, " ")+1:]
	for one, p := range irregular {
		if p == last {
			return many[:len(many)-len(last)] + one
		}
	}
	switch {
	case strings.HasSuffix(many, "ies"):
		return strings.TrimSuffix(many, "ies") + "y"
	case strings.HasSuffix(many, "sses"), strings.HasSuffix(many, "xes"), strings.HasSuffix(many, "zes"),
		strings.HasSuffix(many, "ches"), strings.HasSuffix(many, "shes"):
		return strings.TrimSuffix(many, "es")
	case strings.HasSuffix(many, "s"):
		return strings.TrimSuffix(many, "s")
	}
	return many
}

// Noun is one or its plural, as n asks.
func Noun(n int64, one string) string {
	if n == 1 {
		return one
	}
	return Plural(one)
}

// Count is n followed by the noun in the number n asks: Count(1, "table") is "1 table",
// Count(3, "table") "3 tables".
func Count[N ~int | ~int64](n N, one string) string {
	return fmt.Sprintf("%d %s", n, Noun(int64(n), one))
}

// Verb is the present tense that agrees with n things: Verb(1, "is", "are") is "is".
func Verb[N ~int | ~int64](n N, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
