package english

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		one  string
		want string
	}{
		{0, "table", "0 tables"},
		{1, "table", "1 table"},
		{2, "table", "2 tables"},
		{1, "index", "1 index"},
		{2, "index", "2 indexes"},
		{2, "policy", "2 policies"},
		{2, "standby", "2 standbys"},
		{2, "enum", "2 enums"},
		{2, "materialized view", "2 materialized views"},
		{2, "foreign key", "2 foreign keys"},
		{2, "large object", "2 large objects"},
		{2, "access method", "2 access methods"},
		{2, "batch", "2 batches"},
		{1, "row", "1 row"},
	} {
		if got := Count(tc.n, tc.one); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.one, got, tc.want)
		}
	}
	for _, many := range []string{"enums", "views", "indexes", "policies", "materialized views", "standbys", "schemas",
		"event triggers", "casts", "text search dictionaries", "access methods", "batches"} {
		one := Singular(many)
		if Plural(one) != many {
			t.Errorf("Plural(Singular(%q)) = Plural(%q) = %q", many, one, Plural(one))
		}
	}
	if got := Singular("indexes"); got != "index" {
		t.Errorf("Singular(indexes) = %q", got)
	}
	if got := Verb(1, "has", "have"); got != "has" {
		t.Errorf("Verb(1) = %q", got)
	}
	if got := Verb(int64(0), "has", "have"); got != "have" {
		t.Errorf("Verb(0) = %q", got)
	}
}
