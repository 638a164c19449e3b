package plan

import (
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
)

func TestCarriesStatistics(t *testing.T) {
	tests := []struct {
		target, tools pgver.V
		want          bool
	}{
		{pgver.Of(18), pgver.Of(18), true},
		{pgver.Of(19), pgver.Of(18), true},
		{pgver.Of(17), pgver.Of(18), false}, // no pg_restore_relation_stats on the target
		{pgver.Of(18), pgver.Of(17), false}, // pg_dump 17 dumps no statistics
		{pgver.Of(15), pgver.Of(15), false},
	}
	for _, tc := range tests {
		if got := CarriesStatistics(tc.target, tc.tools); got != tc.want {
			t.Errorf("CarriesStatistics(%v, %v) = %v", tc.target, tc.tools, got)
		}
	}
}

func TestStatisticsPlan(t *testing.T) {
	tables := []catalog.Table{
		{Name: "a", Kind: "r", RowEstimate: 10},
		{Name: "p", Kind: "p", RowEstimate: 0},
		{Name: "ext", Kind: "r", RowEstimate: 5, HasExtendedStats: true},
		{Name: "never", Kind: "r", RowEstimate: -1},
	}
	reason, details := statisticsPlan(tables)
	if want := "carry the source's planner statistics over for 2 tables, ANALYZE 2 tables"; reason != want {
		t.Errorf("reason %q, want %q", reason, want)
	}
	all := strings.Join(details, "\n")
	for _, want := range []string{"ANALYZE: 1 table with extended statistics", "ANALYZE: 1 table never analyzed on the source", "as soon as its copy, indexes and foreign keys are done"} {
		if !strings.Contains(all, want) {
			t.Errorf("details lack %q:\n%s", want, all)
		}
	}
	if _, details := statisticsPlan(tables[:2]); len(details) != 2 {
		t.Errorf("details for tables that all carry over: %q", details)
	}
}
