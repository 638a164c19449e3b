package plan

import (
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
)

// copyFormatDB has a narrow numeric table and a wide bytea one above the sample threshold, a small
// one below it, a table with a column of a type without a safe binary form, a table without
// columns, and a table split in parts.
func copyFormatDB() *catalog.Database {
	num := []catalog.Column{{Name: "aid", Type: "integer", Builtin: true}, {Name: "bid", Type: "integer", Builtin: true},
		{Name: "abalance", Type: "integer", Builtin: true}, {Name: "total", Type: "bigint", Builtin: true, Generated: true}}
	return &catalog.Database{Name: "app", Objects: map[string]int{},
		Tables: []catalog.Table{
			{Schema: "public", Name: "accounts", Kind: "r", RowEstimate: 1000000, SizeBytes: 130 << 20, Pages: 16640, Columns: num},
			{Schema: "public", Name: "blobs", Kind: "r", RowEstimate: 10000, SizeBytes: 200 << 20, Pages: 400,
				Columns: []catalog.Column{{Name: "id", Type: "integer", Builtin: true}, {Name: "data", Type: "bytea", Builtin: true}}},
			{Schema: "public", Name: "small", Kind: "r", RowEstimate: 10, SizeBytes: 8192, Pages: 1, Columns: num[:1]},
			{Schema: "public", Name: "moods", Kind: "r", RowEstimate: 100000, SizeBytes: 50 << 20, Pages: 6400,
				Columns: []catalog.Column{{Name: "id", Type: "integer", Builtin: true}, {Name: "m", Type: "mood", Builtin: false}}},
			{Schema: "public", Name: "nocols", Kind: "r", RowEstimate: 3, SizeBytes: 8192, Pages: 1},
			{Schema: "public", Name: "history", Kind: "r", RowEstimate: 9000000, SizeBytes: 3 << 30, Pages: 393216, Columns: num},
		}}
}

func TestCopyFormat(t *testing.T) {
	samples := map[string]snapshot.CopySample{
		"public.accounts": {Rows: 3900, Text: 330_000, Binary: 392_000},  // text 84%: text
		"public.blobs":    {Rows: 500, Text: 1_020_000, Binary: 512_000}, // bytea: binary
		"public.history":  {Rows: 3900, Text: 370_000, Binary: 392_000},  // text 94%: within the margin
	}
	type want struct{ format, detail string }
	tests := []struct {
		name    string
		format  string
		samples map[string]snapshot.CopySample
		want    map[string]want // by table name; the detail is a substring, "" none
	}{
		{"auto follows the samples", config.CopyFormatAuto, samples, map[string]want{
			"accounts": {"text", "copy format: text, smaller on the wire: the link carried 20.0 MB/s, under 1/2 of the source's COPY pace (150.0 MB/s), so bytes bound the copy; a sample of 3900 rows: text 330 kB, binary 392 kB (text 84% of binary)"},
			"blobs":    {"binary", "copy format: binary, cheaper on CPU and text not 10% smaller: a sample of 500 rows: text 1020 kB, binary 512 kB (text 199% of binary)"},
			"history":  {"binary", "text not 10% smaller"},
			"small":    {"binary", ""},
			"moods":    {"text", "copy format: text (column m is of type mood, whose binary form is not safe between servers)"},
			"nocols":   {"", ""},
		}},
		{"auto on a link faster than copies send keeps binary", config.CopyFormatAuto, samples, map[string]want{
			"accounts": {"binary", "copy format: binary, cheaper on CPU: the link carried 1200.0 MB/s, not under 1/2 of the source's COPY pace (150.0 MB/s), so bytes do not clearly bound the copy; a sample of 3900 rows: text 330 kB, binary 392 kB (text 84% of binary)"},
			"blobs":    {"binary", "text not 10% smaller"}, "moods": {"text", "not safe"}}},
		{"auto on a link slower than copies send but not clearly keeps binary", config.CopyFormatAuto, samples, map[string]want{
			"accounts": {"binary", "the link carried 90.0 MB/s, not under 1/2 of the source's COPY pace (150.0 MB/s)"}}},
		{"auto with the link not measured keeps binary", config.CopyFormatAuto, samples, map[string]want{
			"accounts": {"binary", "copy format: binary, cheaper on CPU: the link's speed was not measured, so bytes are not known to bound the copy; a sample of 3900 rows"}}},
		{"unset is auto", "", samples, map[string]want{"accounts": {"text", "smaller on the wire"}, "small": {"binary", ""}}},
		{"auto without a sample (a plan that could not take one): binary where safe", config.CopyFormatAuto, nil, map[string]want{
			"accounts": {"binary", ""}, "blobs": {"binary", ""}, "moods": {"text", "not safe between servers"}}},
		{"a failed sample keeps binary", config.CopyFormatAuto, map[string]snapshot.CopySample{"public.accounts": {Err: "permission denied for table accounts"}},
			map[string]want{"accounts": {"binary", "copy format: binary (the sample failed: permission denied for table accounts)"}}},
		{"an empty sample keeps binary", config.CopyFormatAuto, map[string]snapshot.CopySample{"public.accounts": {}},
			map[string]want{"accounts": {"binary", "the sample found no rows"}}},
		{"binary: binary where safe, samples ignored", config.CopyFormatBinary, samples, map[string]want{
			"accounts": {"binary", ""}, "blobs": {"binary", ""}, "small": {"binary", ""},
			"moods": {"text", "copy format: text (column m is of type mood"}, "nocols": {"", ""}}},
		{"text: always text, nothing to explain", config.CopyFormatText, samples, map[string]want{
			"accounts": {"text", ""}, "blobs": {"text", ""}, "moods": {"text", ""}, "small": {"text", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, tgt := instances()
			src.VersionNum = 150000
			o := config.Options{Jobs: 4, Verify: "none", CopyFormat: tc.format, SplitTablesLargerThan: 1 << 30}
			snap := &snapshot.Snapshot{Migration: migration(o), Source: src, Target: tgt,
				SourceDBs: map[string]*catalog.Database{"app": copyFormatDB()}, TargetDBs: map[string]*catalog.Database{}}
			switch {
			case strings.Contains(tc.name, "faster"):
				snap.LinkBytesPerSec, snap.CopyBytesPerSec = 1_200_000_000, 150_000_000
			case strings.Contains(tc.name, "not clearly"):
				snap.LinkBytesPerSec, snap.CopyBytesPerSec = 90_000_000, 150_000_000
			case strings.Contains(tc.name, "not measured"):
				snap.LinkBytesPerSec, snap.CopyBytesPerSec = 0, 150_000_000
			default:
				snap.LinkBytesPerSec, snap.CopyBytesPerSec = 20_000_000, 150_000_000 // as the bench's bandwidth mode caps it
			}
			if tc.samples != nil {
				snap.CopySamples = map[string]map[string]snapshot.CopySample{"app": tc.samples}
			}
			p, err := Build(Input{Snapshot: snap})
			if err != nil {
				t.Fatal(err)
			}
			parts := 0
			for _, a := range p.Actions {
				if a.Type == TypeTablePart {
					parts++
					if a.Name != "history" || a.CopyFormat != p.Action(TableAddr("app", "public", "history")).CopyFormat {
						t.Errorf("%s: copy_format %q, want its table's", a.Address, a.CopyFormat)
					}
				}
				if a.Type != TypeTable {
					continue
				}
				w, ok := tc.want[a.Name]
				if !ok {
					continue
				}
				if a.CopyFormat != w.format {
					t.Errorf("%s: copy_format %q, want %q (details %q)", a.Name, a.CopyFormat, w.format, a.Details)
				}
				var got []string
				for _, d := range a.Details {
					if strings.HasPrefix(d, "copy format:") {
						got = append(got, d)
					}
				}
				switch {
				case w.detail == "" && len(got) > 0:
					t.Errorf("%s: details %q, want no copy format line", a.Name, got)
				case w.detail != "" && (len(got) != 1 || !strings.Contains(got[0], w.detail)):
					t.Errorf("%s: details %q, want one line with %q", a.Name, got, w.detail)
				}
			}
			if parts != 3 {
				t.Errorf("history is copied in %d parts, want 3", parts)
			}
		})
	}
}

func TestCopySampled(t *testing.T) {
	db := copyFormatDB()
	var got []string
	for _, tb := range CopySampled(config.Options{CopyFormat: config.CopyFormatAuto}, db) {
		got = append(got, tb.Name)
	}
	// Largest first; small is below the threshold, moods unsafe, nocols without columns.
	if strings.Join(got, ",") != "history,blobs,accounts" {
		t.Errorf("sampled %v", got)
	}
	for _, f := range []string{config.CopyFormatBinary, config.CopyFormatText} {
		if s := CopySampled(config.Options{CopyFormat: f}, db); len(s) != 0 {
			t.Errorf("copy_format = %q samples %d tables, want none", f, len(s))
		}
	}
	many := &catalog.Database{}
	for i := 0; i < CopySampleMaxTables+5; i++ {
		many.Tables = append(many.Tables, catalog.Table{Name: itoa(i), Kind: "r", SizeBytes: int64(CopySampleMinBytes + i), Columns: db.Tables[0].Columns})
	}
	if s := CopySampled(config.Options{}, many); len(s) != CopySampleMaxTables || s[0].Name != itoa(CopySampleMaxTables+4) {
		t.Errorf("sampled %d tables, the first %q: want the %d largest", len(s), s[0].Name, CopySampleMaxTables)
	}
	if n := CopySampleRows(db.Tables[0]); n != 5000 {
		t.Errorf("sample rows of a narrow table = %d, want the 5000 cap", n)
	}
	if n := CopySampleRows(db.Tables[1]); n != 100 {
		t.Errorf("sample rows of a wide table = %d, want the 100 floor", n)
	}
}

// Text only where the link is clearly (CopyLinkMargin times) slower than the source's binary COPY
// pace; binary at or above that, and whenever either was not measured.
func TestLinkBoundsCopy(t *testing.T) {
	for _, tc := range []struct {
		link, copy int64
		want       bool
	}{
		{20_000_000, 150_000_000, true},     // a 20 MB/s cap, a quiet source: text
		{20_000_000, 41_000_000, true},      // just under half the pace
		{20_000_000, 40_000_000, false},     // exactly half: binary
		{20_000_000, 18_500_000, false},     // the same cap on a busy machine: CPU bounds the copy
		{90_000_000, 150_000_000, false},    // slower than COPY, not clearly
		{1_000_000_000, 150_000_000, false}, // loopback
		{8_000_000, 7_000_000, false},
		{0, 150_000_000, false}, {1_000_000_000, 0, false}, {-1, 150_000_000, false},
	} {
		if got := LinkBoundsCopy(tc.link, tc.copy); got != tc.want {
			t.Errorf("LinkBoundsCopy(%d, %d) = %v", tc.link, tc.copy, got)
		}
	}
}
