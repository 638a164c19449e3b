// Package pgver is PostgreSQL's version number, server_version_num (150018 for 15.18, 90624 for
// 9.6.24), as one type: every version test reads v.AtLeast(14) instead of a literal like 140000.
package pgver

import (
	"fmt"
	"strconv"
	"strings"
)

// V is a server_version_num: major*10000 + minor from 10 on, major*10000 + minor*100 + patch
// before (9.6.24 is 90624). The zero V is unknown, and older than every release.
type V int

// Of is the first release of a major (Of(14) is 140000); Of(9, 6) is 9.6's (90600).
func Of(major int, minor ...int) V {
	if major < 10 && len(minor) > 0 {
		return V(major*10000 + minor[0]*100)
	}
	return V(major * 10000)
}

// AtLeast reports whether v is major (9, 6 for 9.6) or later.
func (v V) AtLeast(major int, minor ...int) bool { return v >= Of(major, minor...) }

// Before reports whether v is older than major (9, 6 for 9.6).
func (v V) Before(major int, minor ...int) bool { return !v.AtLeast(major, minor...) }

// Major is the major version's first number: 15 for 15.18, 9 for 9.6.24.
func (v V) Major() int { return int(v) / 10000 }

// Release is v without its minor (patch before 10): the first release of its major, so that two
// majors compare as V (Release of 9.6.24 is 9.6's 90600, of 15.18 is 150000).
func (v V) Release() V {
	if v >= 100000 {
		return v / 10000 * 10000
	}
	return v / 100 * 100
}

// MajorString is the major as users write it: "9.6", "15".
func (v V) MajorString() string {
	if v >= 100000 {
		return strconv.Itoa(v.Major())
	}
	return fmt.Sprintf("%d.%d", v.Major(), int(v)/100%100)
}

// String is the version as PostgreSQL prints it: "15.18", "9.6.24".
func (v V) String() string {
	if v >= 100000 {
		return fmt.Sprintf("%d.%d", v.Major(), int(v)%10000)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major(), int(v)/100%100, int(v)%100)
}

// Parse reads a version as PostgreSQL and its tools print it: "15.18", "9.6.24", "18beta1",
// "17.2 (Debian 17.2-1.pgdg120+1)" (from the first number on).
func Parse(s string) (V, error) {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && (s[end] == '.' || s[end] >= '0' && s[end] <= '9') {
		end++
	}
	parts := strings.Split(strings.Trim(s[:end], "."), ".")
	var n [3]int
	for i, p := range parts {
		if i >= 3 || p == "" {
			break
		}
		x, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("not a PostgreSQL version: %q", s)
		}
		n[i] = x
	}
	if end == 0 || n[0] == 0 {
		return 0, fmt.Errorf("not a PostgreSQL version: %q", s)
	}
	if n[0] >= 10 {
		return V(n[0]*10000 + n[1]), nil
	}
	return V(n[0]*10000 + n[1]*100 + n[2]), nil
}
