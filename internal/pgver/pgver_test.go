package pgver

import "testing"

func TestV(t *testing.T) {
	for _, c := range []struct {
		v               V
		major           int
		release         V
		majorS, str     string
		at14, at96, b10 bool
	}{
		{150018, 15, 150000, "15", "15.18", true, true, false},
		{140000, 14, 140000, "14", "14.0", true, true, false},
		{130022, 13, 130000, "13", "13.22", false, true, false},
		{90624, 9, 90600, "9.6", "9.6.24", false, true, true},
		{90524, 9, 90500, "9.5", "9.5.24", false, false, true},
		{180001, 18, 180000, "18", "18.1", true, true, false},
	} {
		if got := c.v.Major(); got != c.major {
			t.Errorf("%d.Major() = %d, want %d", c.v, got, c.major)
		}
		if got := c.v.Release(); got != c.release {
			t.Errorf("%d.Release() = %d, want %d", c.v, got, c.release)
		}
		if got := c.v.MajorString(); got != c.majorS {
			t.Errorf("%d.MajorString() = %q, want %q", c.v, got, c.majorS)
		}
		if got := c.v.String(); got != c.str {
			t.Errorf("%d.String() = %q, want %q", c.v, got, c.str)
		}
		if c.v.AtLeast(14) != c.at14 || c.v.AtLeast(9, 6) != c.at96 || c.v.Before(10) != c.b10 {
			t.Errorf("%d: AtLeast(14) %t AtLeast(9, 6) %t Before(10) %t", c.v, c.v.AtLeast(14), c.v.AtLeast(9, 6), c.v.Before(10))
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]V{
		"15.18": 150018, "9.6.24": 90624, "18beta1": 180000, "17.2 (Debian 17.2-1.pgdg120+1)": 170002, "10": 100000, "16.4.": 160004,
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "beta", "PostgreSQL 15"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}
