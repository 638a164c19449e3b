package apply

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/plan"
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

// TestLanePending: the analyze lane takes a table once its copy and index builds are done, not
// its foreign keys (which run late, once the table they reference is loaded: the tables waiting
// for theirs were analyzed in a rush at the end, or by the analyze action alone after post-data);
// a table this run does not load, or that cannot be analyzed early, is left to the analyze action.
func TestLanePending(t *testing.T) {
	tables := map[string]*catalog.Table{}
	for _, n := range []string{"a", "b", "c"} {
		tables["public."+n] = &catalog.Table{Schema: "public", Name: n, Kind: "r"}
	}
	actions := []*plan.Action{
		{Address: "s", Type: plan.TypeSchema},
		{Address: "ta", Type: plan.TypeTable, Schema: "public", Name: "a"},
		{Address: "tb", Type: plan.TypeTable, Schema: "public", Name: "b"},
		{Address: "a_pkey", Type: plan.TypeIndex, Schema: "public", Table: "a"},
		{Address: "b_pkey", Type: plan.TypeIndex, Schema: "public", Table: "b"},
		{Address: "b_a_idx", Type: plan.TypeIndex, Schema: "public", Table: "b"},
		{Address: "b_fk", Type: plan.TypeConstraint, Schema: "public", Table: "b", DependsOn: []string{"tb", "ta", "a_pkey"}},
		{Address: "c_idx", Type: plan.TypeIndex, Schema: "public", Table: "c"}, // c loaded by an earlier run
		{Address: "post", Type: plan.TypePostData},
		{Address: "an", Type: plan.TypeAnalyze},
	}
	pending := lanePending(tables, actions)
	if want := map[string]int{"public.a": 2, "public.b": 3}; !reflect.DeepEqual(pending, want) {
		t.Errorf("pending %v, want %v", pending, want)
	}
	l := &analyzeLane{pending: pending, tables: tables, done: map[string]bool{}, wake: make(chan struct{}, 1)}
	byAddr := map[string]*plan.Action{}
	for _, a := range actions {
		byAddr[a.Address] = a
	}
	queued := func() (names []string) {
		for _, t := range l.queue {
			names = append(names, t.Name)
		}
		return names
	}
	for _, step := range []struct {
		done string
		want []string
	}{
		{"tb", nil}, {"b_pkey", nil}, {"ta", nil}, {"b_a_idx", []string{"b"}}, {"a_pkey", []string{"b", "a"}},
		{"b_fk", []string{"b", "a"}}, {"c_idx", []string{"b", "a"}},
	} {
		l.finished(byAddr[step.done])
		if got := queued(); !reflect.DeepEqual(got, step.want) {
			t.Errorf("after %s: queued %v, want %v", step.done, got, step.want)
		}
	}
}

// TestLaneBatch: the lane's ANALYZE names tables up to laneBatchPages to read (the statement the
// analyze action waits for, at the end of the run, stays short), a larger table alone, and tiny
// tables up to maxAnalyzeBatch at a time.
func TestLaneBatch(t *testing.T) {
	tables := func(pages ...int64) []*catalog.Table {
		var out []*catalog.Table
		for _, p := range pages {
			out = append(out, &catalog.Table{Pages: p})
		}
		return out
	}
	tiny := make([]int64, 150)
	for _, tc := range []struct {
		name  string
		queue []*catalog.Table
		want  int
	}{
		{"empty", nil, 0},
		{"up to the pages", tables(1500, 400, 200, 100), 2},
		{"a large table alone", tables(50000, 10), 1},
		{"the next one too large", tables(1000, 100000), 1},
		{"tiny tables", tables(tiny...), maxAnalyzeBatch},
		{"all of a few", tables(100, 100, 100), 3},
	} {
		if got := laneBatch(tc.queue); got != tc.want {
			t.Errorf("%s: %d tables, want %d", tc.name, got, tc.want)
		}
	}
}
