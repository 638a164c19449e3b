package main

import (
	"strings"
	"testing"
)

func TestParsePlanForecast(t *testing.T) {
	// A plan --json document of a pgferry without the forecast: the step fails, saying so.
	_, err := parsePlanForecast([]byte(`{"format_version":"1.0","tool_version":"0.1.0-dev","status":"changes","actions":[]}`))
	if err == nil || !strings.HasPrefix(err.Error(), "plan --json has no forecast: ") || !strings.Contains(err.Error(), "0.1.0-dev") {
		t.Errorf("no forecast: %v", err)
	}
	if _, err := parsePlanForecast([]byte(`{"forecast":null}`)); err == nil || !strings.Contains(err.Error(), "plan --json has no forecast: its \"forecast\" is null") {
		t.Errorf("null forecast: %v", err)
	}
	f, err := parsePlanForecast([]byte(`{"forecast":{"seconds":12.5,"low_seconds":10,"high_seconds":16,"basis":"rehearsal","run":3,
		"critical_path":["database.forecast.table[\"public\".\"pgbench_accounts\"]"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Seconds != 12.5 || f.LowSeconds != 10 || f.HighSeconds != 16 || f.Basis != "rehearsal" || f.Run == nil || *f.Run != 3 || len(f.CriticalPath) != 1 {
		t.Errorf("forecast = %+v", f)
	}
	for _, bad := range []string{
		`{"forecast":{"seconds":0,"low_seconds":0,"high_seconds":0,"basis":"model","run":null}}`,
		`{"forecast":{"seconds":5,"low_seconds":4,"high_seconds":6,"basis":"guess","run":null}}`,
		`{"forecast":{"seconds":5,"low_seconds":6,"high_seconds":7,"basis":"model","run":null}}`,
		`{"forecast":"5s"}`,
		`not json`,
	} {
		if _, err := parsePlanForecast([]byte(bad)); err == nil {
			t.Errorf("parsePlanForecast(%s): no error", bad)
		}
	}
}

func TestPathStr(t *testing.T) {
	if got := pathStr([]string{"a", "b"}); got != "a → b" {
		t.Errorf("short path: %s", got)
	}
	long := strings.Split("a b c d e f g h i j", " ")
	if got := pathStr(long); got != "a → b → c → d → e → f → … (3 more) → j" {
		t.Errorf("long path: %s", got)
	}
}

func TestLatestRun(t *testing.T) {
	doc := `{"format_version":"1.0","migration":"bench","runs":[
 {"id":3,"operation":"apply","outcome":"Succeeded","duration_seconds":21.5,"forecast_seconds":20,"phases":{"copy":12}},
 {"id":2,"operation":"destroy","outcome":"Succeeded","duration_seconds":1.2,"forecast_seconds":null},
 {"id":1,"operation":"apply","outcome":"Succeeded","duration_seconds":22,"forecast_seconds":null}]}`
	r, err := latestRun([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != 3 || r.Operation != "apply" || r.DurationSeconds != 21.5 || r.ForecastSeconds == nil || *r.ForecastSeconds != 20 || r.Phases["copy"] != 12 {
		t.Errorf("latest run = %+v", r)
	}
	if _, err := latestRun([]byte(`{"runs":[]}`)); err == nil {
		t.Error("no runs: no error")
	}
}

func TestForecastVerdict(t *testing.T) {
	one, three := 1, 3
	cases := []struct {
		c    ForecastCase
		err  string
		want string
	}{
		{ForecastCase{Step: forecastSteps[0], Forecast: &planForecast{Seconds: 13, Basis: "model"}, Run: &historyRun{DurationSeconds: 10}},
			"+30.0%", "meets ±35%"},
		{ForecastCase{Step: forecastSteps[0], Forecast: &planForecast{Seconds: 6, Basis: "model"}, Run: &historyRun{DurationSeconds: 10}},
			"-40.0%", "MISSES ±35%"},
		{ForecastCase{Step: forecastStep{Bar: 0.15, WantBasis: "rehearsal", WantRun: 1}, Forecast: &planForecast{Seconds: 11, Basis: "rehearsal", Run: &one},
			Run: &historyRun{DurationSeconds: 10}}, "+10.0%", "meets ±15%"},
		// Within the bar, but from the wrong run: the basis is named.
		{ForecastCase{Step: forecastStep{Bar: 0.15, WantBasis: "rehearsal", WantRun: 1}, Forecast: &planForecast{Seconds: 10, Basis: "rehearsal", Run: &three},
			Run: &historyRun{DurationSeconds: 10}}, "+0.0%", "meets ±15% (basis should be rehearsal run 1)"},
		{ForecastCase{Step: forecastStep{Bar: 0.2, WantBasis: "rehearsal"}, Forecast: &planForecast{Seconds: 10, Basis: "model"},
			Run: &historyRun{DurationSeconds: 12.6}}, "-20.6%", "MISSES ±20% (basis should be rehearsal)"},
		{ForecastCase{Step: forecastSteps[0], Err: "plan --json has no forecast: x"}, "—", "FAILED"},
	}
	for i, tc := range cases {
		_, _, _, _, e := tc.c.cells()
		if e != tc.err || tc.c.verdict() != tc.want {
			t.Errorf("case %d: error %s, verdict %q; want %s, %q", i, e, tc.c.verdict(), tc.err, tc.want)
		}
	}
}

func TestMergeReportForecastSection(t *testing.T) {
	old := "# Benchmarks\nloopback\n## Forecast accuracy\nmethod\n### Forecast run of A\na\n### Forecast run of B\nb\n### Forecast run of C\nc\n### Forecast run of D\nd\n## In the field\nfield\n## Notes\nnotes\n"
	one := 1
	rep := &Report{Machine: Machine{Date: "NEW"}, Forecast: &ForecastResult{Desc: "pgbench + 200", Cases: []*ForecastCase{
		{Step: forecastSteps[0], Forecast: &planForecast{Seconds: 11, LowSeconds: 8, HighSeconds: 15, Basis: "model",
			CriticalPath: []string{"a copy", "a pk"}}, Run: &historyRun{ID: 1, DurationSeconds: 10}},
		{Step: forecastStep{Case: "after one rehearsal", Bar: 0.15, WantBasis: "rehearsal", WantRun: 1},
			Forecast: &planForecast{Seconds: 10, LowSeconds: 9, HighSeconds: 11, Basis: "rehearsal", Run: &one}, Run: &historyRun{ID: 3, DurationSeconds: 10.5}},
	}}}
	got := mergeReport(old, rep)
	if !strings.HasPrefix(got, "# Benchmarks\nloopback\n\n## Forecast accuracy\n") || !strings.HasSuffix(got, "## In the field\nfield\n## Notes\nnotes\n") {
		t.Errorf("sections:\n%s", got)
	}
	var heads []string
	for _, l := range strings.Split(got, "\n") {
		if h, ok := strings.CutPrefix(l, "### Forecast run of "); ok {
			heads = append(heads, h)
		}
	}
	if strings.Join(heads, ",") != "NEW,A,B,C" {
		t.Errorf("forecast runs kept: %v", heads)
	}
	for _, want := range []string{
		"| cold: no run yet | model | 11.0 s | 8.0–15.0 s | — | 10.0 s | +10.0% | meets ±35% | — | — |",
		"| after one rehearsal | rehearsal (run 1) | 10.0 s | 9.0–11.0 s | — | 10.5 s | -4.8% | meets ±15% | — | — |",
		"Critical path, cold: no run yet: a copy → a pk.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// A run without the forecast bench keeps the section as it was.
	if again := mergeReport(got, &Report{Field: []*FieldResult{}}); !strings.Contains(again, "### Forecast run of NEW\n") || !strings.Contains(again, "### Forecast run of C\n") {
		t.Errorf("forecast section not kept:\n%s", again)
	}
}
