package apply

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/internal/pgver"
)

func TestAnalyzeStatement(t *testing.T) {
	names := []string{`"a"`, `"b"."c"`}
	if got := analyzeStatement(names, pgver.Of(11)); got != `ANALYZE "a", "b"."c"` {
		t.Errorf("11: %s", got)
	}
	if got := analyzeStatement(names, pgver.Of(10)); got != `ANALYZE "a"; ANALYZE "b"."c"` {
		t.Errorf("10: %s", got)
	}
}

func TestAnalyzeBatches(t *testing.T) {
	small := func(n int) []analyzeItem {
		var out []analyzeItem
		for i := range n {
			out = append(out, analyzeItem{fmt.Sprintf("t%d", i), 1})
		}
		return out
	}
	count := func(stmts []string) (tables int) {
		for _, s := range stmts {
			tables += strings.Count(s, ",") + 1
		}
		return tables
	}
	tests := []struct {
		name  string
		items []analyzeItem
		jobs  int
		want  []string // statements, or nil to check only counts
		stmts int
	}{
		{name: "none", items: nil, jobs: 2, stmts: 0},
		{name: "one", items: small(1), jobs: 2, want: []string{"ANALYZE t0"}},
		// 200 tiny tables on 2 connections: 8 statements of 25, not 200 round trips.
		{name: "many small", items: small(200), jobs: 2, stmts: 8},
		// At most maxAnalyzeBatch tables per statement.
		{name: "very many", items: small(1000), jobs: 1, stmts: 10},
		// A large table goes alone, first; the small ones share the rest.
		{name: "large and small", items: append(small(6), analyzeItem{"big", 100000}), jobs: 2,
			want: []string{"ANALYZE big", "ANALYZE t0, t1, t2, t3, t4, t5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := analyzeBatches(tc.items, tc.jobs, pgver.Of(18))
			if tc.want != nil {
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("got %q, want %q", got, tc.want)
				}
				return
			}
			if len(got) != tc.stmts || count(got) != len(tc.items) {
				t.Errorf("%d statements for %d tables, want %d for %d: %q", len(got), count(got), tc.stmts, len(tc.items), got)
			}
		})
	}
}
