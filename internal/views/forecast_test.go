package views

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/state"
)

func TestForecastBasis(t *testing.T) {
	for _, tc := range []struct {
		f    state.Forecast
		want string
	}{
		{state.Forecast{Basis: "rehearsal", BasisRun: 3, BasisRunMS: 72000, Jobs: 4}, "rehearsal: run 3 (Succeeded, 1m12s) scaled to today's sizes and jobs = 4"},
		{state.Forecast{Basis: "rehearsal", BasisRun: 1, Jobs: 2}, "rehearsal: run 1 (Succeeded) scaled to today's sizes and jobs = 2"},
		{state.Forecast{Basis: "model", Jobs: 8}, "model of these servers measured now, for jobs = 8"},
	} {
		if got := ForecastBasis(&tc.f); got != tc.want {
			t.Errorf("basis %q, want %q", got, tc.want)
		}
	}
}

// TestCriticalPath: the longest steps in their order, "…" wherever shorter ones were left out.
func TestCriticalPath(t *testing.T) {
	f := &state.Forecast{CriticalPath: []string{"a", "b", "c", "d", "e", "f", "g"}, CriticalMS: []int64{5000, 10, 4000, 3000, 20, 2000, 1000}}
	if got, want := CriticalPath(f, func(s string) string { return s }), "a 5s → … → c 4s → d 3s → … → f 2s → g 1s"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	f = &state.Forecast{CriticalPath: []string{"a", "b"}, CriticalMS: []int64{100, 2500}}
	if got, want := CriticalPath(f, func(s string) string { return "`" + s + "`" }), "`a` 100ms → `b` 2.5s"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	if got := CriticalPath(&state.Forecast{}, nil); got != "" {
		t.Errorf("no path: %q", got)
	}
}

// TestPlanForecastHidden: a plan whose validations failed shows no forecast, in any form.
func TestPlanForecastHidden(t *testing.T) {
	p := failedPlan()
	p.Forecast = forecastPlan().Forecast
	var h, m bytes.Buffer
	Plan(&h, p)
	Markdown(&m, p)
	js, err := PlanJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"human": h.String(), "markdown": m.String()} {
		if strings.Contains(out, "Forecast") {
			t.Errorf("%s shows a forecast for a plan that failed its validations", name)
		}
	}
	if !bytes.Contains(js, []byte(`"forecast": null`)) {
		t.Error("--json has a forecast for a plan that failed its validations")
	}
}

// TestApplyForecast: apply shows a saved plan's forecast before it starts; under --json the
// forecast is one line, as plan --json has it.
func TestApplyForecast(t *testing.T) {
	var h bytes.Buffer
	NewApply(HumanView, &View{Stdout: &h, Stderr: io.Discard}, false).Forecast(forecastPlan())
	if want := "Forecast: apply will take about 1m12s (58s to 1m27s)\n  basis: rehearsal: run 3 (Succeeded, 1m12s) scaled to today's sizes and jobs = 4\n"; !strings.HasPrefix(h.String(), want) {
		t.Errorf("human:\n%s\nwant it to start with\n%s", h.String(), want)
	}
	var j bytes.Buffer
	a := NewApply(JSONView, &View{Stdout: &j, Stderr: io.Discard}, false)
	a.Plan(forecastPlan())
	a.Forecast(noChangesPlan())
	lines := strings.Split(strings.TrimSpace(j.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"type":"forecast"`) || !strings.Contains(lines[0], `"forecast":{"seconds":72.4,"low_seconds":58,"high_seconds":86.9,"basis":"rehearsal","run":3,"critical_path":["role.app_owner",`) {
		t.Errorf("json: %q", lines)
	}
}

// TestPlanJSONForecastNote: plan --json carries the note the human plan prints under its forecast
// (copies priced from another COPY format, actions that outgrew their rehearsal), "" when none.
func TestPlanJSONForecastNote(t *testing.T) {
	p := forecastPlan()
	p.Forecast.Note = "1 copy in another COPY format than run 3 sent, priced for this plan's; 2 actions grew 100× or more since run 3: priced by the model of these servers"
	var h bytes.Buffer
	Plan(&h, p)
	if !strings.Contains(h.String(), "  note: "+p.Forecast.Note+"\n") {
		t.Errorf("the human plan does not print the note:\n%s", h.String())
	}
	js, err := PlanJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Forecast map[string]any `json:"forecast"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if got, ok := doc.Forecast["note"].(string); !ok || got != p.Forecast.Note {
		t.Errorf("forecast.note %#v, want %q", doc.Forecast["note"], p.Forecast.Note)
	}
	p.Forecast.Note = ""
	if js, err = PlanJSON(p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte(`    "note": ""`+"\n  },")) {
		t.Error(`forecast without a note: no "note": ""`)
	}
}
