package pgdump

import (
	"regexp"
	"strings"
)

// SplitStatements splits SQL text (a chunk of pg_restore's script, or statements pgferry composed)
// into its statements, each with its terminating semicolon, as the server runs them one after the
// other: semicolons inside quotes, dollar quotes, comments, parentheses and the BEGIN ATOMIC body
// of a SQL-standard function (PostgreSQL 14+) do not end a statement. Pieces holding only
// whitespace and comments are left out (the server runs nothing for them). It follows psql's
// lexer heuristics (psqlscan.l), which pg_dump's output is written for.
func SplitStatements(sql string) []string {
	var out []string
	start := 0
	parens, begins := 0, 0
	var words []string // the statement's first identifiers, lower-cased, for CREATE [OR REPLACE] FUNCTION|PROCEDURE
	nwords := 0
	content := false // the statement holds something other than whitespace and comments
	flush := func(end int) {
		if content {
			out = append(out, strings.TrimSpace(sql[start:end]))
		}
		start, parens, begins, words, nwords, content = end, 0, 0, nil, 0, false
	}
	for i := 0; i < len(sql); {
		if j, ok := skipBlank(sql, i); ok {
			i = j
			continue
		}
		c := sql[i]
		if !content {
			// A statement's text starts at its first token, after the comments before it.
			start, content = i, true
		}
		switch {
		case c == ';':
			i++
			if parens == 0 && begins == 0 {
				flush(i)
			}
		case c == '(':
			parens++
			i++
		case c == ')':
			parens = max(parens-1, 0)
			i++
		case c == '\'':
			i = skipQuoted(sql, i, '\'', false)
		case c == '"':
			i = skipQuoted(sql, i, '"', false)
		case c == '$':
			if tag, ok := dollarTag(sql[i:]); ok {
				j := strings.Index(sql[i+len(tag):], tag)
				if j < 0 {
					i = len(sql)
				} else {
					i += len(tag) + j + len(tag)
				}
			} else {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(sql) && isIdentChar(sql[j]) {
				j++
			}
			word := strings.ToLower(sql[i:j])
			if nwords < 4 {
				words = append(words, word)
			}
			nwords++
			if parens == 0 && createsRoutine(words) {
				switch word {
				case "begin":
					begins++
				case "case":
					if begins > 0 {
						begins++
					}
				case "end":
					if begins > 0 {
						begins--
					}
				}
			}
			i = j
			// E'...': a string with backslash escapes.
			if word == "e" && j < len(sql) && sql[j] == '\'' {
				i = skipQuoted(sql, j, '\'', true)
			}
		default:
			i++
		}
	}
	flush(len(sql))
	return out
}

// skipBlank returns the index after the comment or whitespace character at i, and false when
// there is neither.
func skipBlank(sql string, i int) (int, bool) {
	switch c := sql[i]; {
	case c == '-' && strings.HasPrefix(sql[i:], "--"):
		j := strings.IndexByte(sql[i:], '\n')
		if j < 0 {
			return len(sql), true
		}
		return i + j + 1, true
	case c == '/' && strings.HasPrefix(sql[i:], "/*"):
		depth := 0
		for i < len(sql) {
			if strings.HasPrefix(sql[i:], "/*") {
				depth++
				i += 2
			} else if strings.HasPrefix(sql[i:], "*/") {
				depth--
				i += 2
				if depth == 0 {
					break
				}
			} else {
				i++
			}
		}
		return i, true
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
		return i + 1, true
	}
	return i, false
}

// createsRoutine reports whether a statement's first words (lower-cased) are CREATE [OR
// REPLACE] FUNCTION|PROCEDURE.
func createsRoutine(words []string) bool {
	w := func(i int) string {
		if i < len(words) {
			return words[i]
		}
		return ""
	}
	if w(0) != "create" {
		return false
	}
	if w(1) == "function" || w(1) == "procedure" {
		return true
	}
	return w(1) == "or" && w(2) == "replace" && (w(3) == "function" || w(3) == "procedure")
}

// skipQuoted returns the index after the quoted string starting at i (quote q, doubled to escape;
// with backslash escapes for E'...').
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for i++; i < len(s); i++ {
		switch {
		case backslash && s[i] == '\\':
			i++
		case s[i] == q:
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(s)
}

// dollarTag returns the dollar-quote opening tag s starts with ($$ or $tag$), if it is one.
func dollarTag(s string) (string, bool) {
	if len(s) < 2 || s[0] != '$' {
		return "", false
	}
	if s[1] == '$' {
		return "$$", true
	}
	if !isIdentStart(s[1]) {
		return "", false // $1: a parameter
	}
	for j := 2; j < len(s); j++ {
		switch {
		case s[j] == '$':
			return s[:j+1], true
		case !isIdentChar(s[j]):
			return "", false
		}
	}
	return "", false
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$' }

// Header is what the comment block starting a chunk of pg_restore's script says of its entry:
// "-- Name: orders; Type: TABLE; Schema: public; Owner: shop". Name is the entry's tag: a
// function's signature (f(integer)), "table constraint" for constraints, triggers and policies,
// "KIND name" for comments and privileges. A field pg_dump prints as "-" is empty.
type Header struct{ Name, Type, Schema, Owner string }

var nameLine = regexp.MustCompile(`(?m)^-- (?:Data for )?Name: (.*?); Type: (.*?); Schema: (.*?); Owner: ([^;\n]*)`)

// Header parses the chunk's header; ok is false when it has none.
func (c Chunk) Header() (h Header, ok bool) {
	m := nameLine.FindStringSubmatch(c.SQL[:min(len(c.SQL), HeaderLen(c.SQL))])
	if m == nil {
		return Header{}, false
	}
	dash := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	return Header{Name: m[1], Type: m[2], Schema: dash(m[3]), Owner: dash(strings.TrimSpace(m[4]))}, true
}
