package views

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/state"
)

func TestHistory(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	runs := []state.RunSummary{
		{ID: 1, Operation: state.OpApply, Outcome: state.StatusFailed, StartedAt: t0, FinishedAt: t0.Add(5 * time.Second),
			Error: "COPY failed: disk full", Bytes: 1 << 20, Rows: 1000, PhasesMS: map[string]int64{"copy": 4500}},
		{ID: 2, Operation: state.OpDestroy, Outcome: state.StatusSucceeded, StartedAt: t0.Add(time.Minute), FinishedAt: t0.Add(61 * time.Second)},
		{ID: 3, Operation: state.OpApply, Outcome: state.StatusSucceeded, StartedAt: t0.Add(2 * time.Minute), FinishedAt: t0.Add(2*time.Minute + 22*time.Second),
			Bytes: 100 << 20, Rows: 1_200_000, PhasesMS: map[string]int64{"copy": 12_100, "indexes": 4_200},
			Forecast: &state.Forecast{ExpectedMS: 20_000, LowMS: 17_000, HighMS: 24_000, Basis: "rehearsal", BasisRun: 1}},
	}
	var js bytes.Buffer
	if err := HistoryJSON(&js, "shop", runs); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := doc["runs"].([]any)
	if doc["format_version"] != "1.0" || doc["migration"] != "shop" || len(got) != 3 {
		t.Fatalf("document: %s", js.String())
	}
	newest := got[0].(map[string]any)
	for k, want := range map[string]any{"id": 3.0, "operation": "apply", "outcome": "Succeeded", "duration_seconds": 22.0,
		"forecast_seconds": 20.0, "forecast_error_percent": 10.0, "rows": 1.2e6, "started_at": "2025-03-01T10:02:00Z"} {
		if newest[k] != want {
			t.Errorf("newest run %s = %v, want %v", k, newest[k], want)
		}
	}
	if ph := newest["phases"].(map[string]any); ph["copy"] != 12.1 || ph["indexes"] != 4.2 {
		t.Errorf("phases = %v", ph)
	}
	if oldest := got[2].(map[string]any); oldest["forecast_seconds"] != nil || oldest["error"] != "COPY failed: disk full" {
		t.Errorf("oldest run = %v", oldest)
	}

	var human bytes.Buffer
	History(&human, "shop", runs)
	out := human.String()
	for _, want := range []string{
		"Runs of migration \"shop\", newest first:",
		"3    apply      2025-03-01 10:02:00  22s       Succeeded  100.0 MiB, 1.2M rows",
		"20s       +10%",
		"2    destroy    2025-03-01 10:01:00  1s        Succeeded  -",
		"Run 1 (apply, Failed): COPY failed: disk full",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	human.Reset()
	History(&human, "shop", nil)
	if !strings.Contains(human.String(), `Migration "shop" has no runs yet`) {
		t.Errorf("empty history: %s", human.String())
	}
}
