package views

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestListGridWidth: with realistic names (managed servers' long host names, several databases),
// every line of list stays within 165 columns (the contract's headers alone take 139), with a
// Target server column; short ones keep host:port.
func TestListGridWidth(t *testing.T) {
	start := time.Date(2026, 12, 5, 2, 38, 52, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		header   string
		rows     []listRow
		contains []string
	}{
		{"short", "Name Status Migration mode Migration type Source server Source server type Target server Databases Duration Start time (UTC)", []listRow{{Name: "shop", Status: "Succeeded", SourceServer: "onprem (10.1.2.3:5432)", SourceServerType: "on-premises",
			TargetServer: "flex (10.1.2.4:5432)", Databases: []string{"app"}, Duration: "3m12s", StartTime: &start, sourceName: "onprem", targetName: "flex"}},
			[]string{"onprem (10.1.2.3:5432)", "flex (10.1.2.4:5432)", "2026-12-05 02:38"}},
		{"managed", "Name Status Migration mode Migration type Source server Source server type Target server Databases Duration Start time (UTC)", []listRow{
			{Name: "prod-to-flex-eu-west", Status: "Validation failed", SourceServer: "onprem-primary (pg-primary.corp.example.com:5432)",
				SourceServerType: "on-premises", TargetServer: "flex (prod-flex-eu-west.postgres.database.azure.com:5432)",
				Databases: []string{"app", "billing", "reporting", "audit"}, Duration: "1h12m5s", StartTime: &start,
				sourceName: "onprem-primary", targetName: "flex"},
			{Name: "rehearsal-3", Status: "In progress", SourceServer: "onprem-primary (pg-primary.corp.example.com:5432)",
				SourceServerType: "azure-vm", TargetServer: "flex-staging (staging-flex.postgres.database.azure.com:5432)",
				Databases: []string{"app"}, Duration: "12.4s", StartTime: &start, sourceName: "onprem-primary", targetName: "flex-staging"},
		}, []string{"Target server", "flex-staging", "Validation failed", "In progress"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeListGrid(&b, tc.rows)
			out := b.String()
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if n := utf8.RuneCountInString(l); n > 165 {
					t.Errorf("line of %d columns: %q", n, l)
				}
			}
			if got := strings.Join(strings.Fields(strings.SplitN(out, "\n", 2)[0]), " "); got != tc.header {
				t.Errorf("header: %q", got)
			}
			for _, w := range tc.contains {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			t.Logf("\n%s", out)
		})
	}
}
