package forecast

import (
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// The sample of table big, as pgbench_accounts' was: text 13 B a row, binary 30 B (43%); streamed
// in binary at 500 MB/s.
var bigSample = snapshot.CopySample{Rows: 4000, Text: 52000, Binary: 120000, BinaryTime: 240 * time.Microsecond}

func TestRunFormat(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows, wire int64
		s          snapshot.CopySample
		want       string
	}{
		{"text bytes a row", 1000, 13_500, bigSample, config.CopyFormatText},
		{"binary bytes a row", 1000, 29_000, bigSample, config.CopyFormatBinary},
		{"formats too alike to tell", 1000, 13_000, snapshot.CopySample{Rows: 10, Text: 110, Binary: 100}, ""},
		{"failed sample", 1000, 13_000, snapshot.CopySample{Rows: 10, Text: 130, Binary: 300, Err: "timeout"}, ""},
		{"no rows recorded", 0, 13_000, bigSample, ""},
	} {
		if got := runFormat(state.RunAction{Rows: tc.rows, Bytes: tc.wire}, tc.s); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// formatRun is a run of p whose copy of big took bigTook and sent its rows in format.
func formatRun(t *testing.T, p *plan.Plan, id int, bigTook time.Duration, format string) *state.Run {
	durs := append([]time.Duration(nil), shopDurations...)
	durs[3] = bigTook
	r := runOf(t, p, durs, 2, 0)
	r.ID = id
	perRow := int64(30)
	if format == config.CopyFormatText {
		perRow = 13
	}
	for i := range r.Actions {
		if r.Actions[i].Address == plan.TableAddr("shop", "public", "big") {
			r.Actions[i].Rows = r.Actions[i].RowsEstimate
			r.Actions[i].Bytes = r.Actions[i].Rows * perRow
		}
	}
	return r
}

// TestRehearsalFormats: a copy the rehearsal sent in another COPY format than the plan chose is
// priced in the plan's; with several runs, the runs that sent it in the plan's format set it.
func TestRehearsalFormats(t *testing.T) {
	samples := map[string]map[string]snapshot.CopySample{"shop": {"public.big": bigSample}}
	withFormat := func(format string) *plan.Plan {
		p := shop(4 << 30)
		p.Actions[3].CopyFormat = format
		return p
	}
	big := plan.TableAddr("shop", "public", "big")
	rows := withFormat("").Actions[3].RowsEstimate
	// big's rows in binary (30 B a row) at the samples' 500 MB/s.
	binStream := time.Duration(float64(rows*30) / 500e6 * float64(time.Second))
	for _, tc := range []struct {
		name    string
		format  string // the plan's format of big
		runs    []*state.Run
		samples map[string]map[string]snapshot.CopySample
		want    time.Duration
		note    string
		wider   bool // the range wider than the run's alone (one run)
	}{
		{name: "sent in text, binary now: at the samples' binary pace", format: config.CopyFormatBinary,
			runs: []*state.Run{formatRun(t, withFormat(""), 4, 15*sec, config.CopyFormatText)}, samples: samples,
			want: binStream, note: "1 copy in another COPY format than run 4 sent, priced for this plan's", wider: true},
		{name: "sent in text, binary now, slower pace than the run: never more than the run", format: config.CopyFormatBinary,
			runs:    []*state.Run{formatRun(t, withFormat(""), 4, 1*sec, config.CopyFormatText)},
			samples: samples, want: 1 * sec, note: "1 copy in another COPY format than run 4 sent", wider: true},
		{name: "sent in binary slower than the source's pace (the link bound it), text now: by the bytes", format: config.CopyFormatText,
			runs: []*state.Run{formatRun(t, withFormat(""), 4, 6*sec, config.CopyFormatBinary)}, samples: samples,
			want: 6 * sec * 13 / 30, note: "1 copy in another COPY format than run 4 sent", wider: true},
		{name: "sent in binary at the source's pace (CPU bound it), text now: not quicker than that pace", format: config.CopyFormatText,
			runs: []*state.Run{formatRun(t, withFormat(""), 4, 3*sec, config.CopyFormatBinary)}, samples: samples,
			want: binStream, note: "1 copy in another COPY format than run 4 sent", wider: true},
		{name: "same format", format: config.CopyFormatBinary,
			runs: []*state.Run{formatRun(t, withFormat(""), 4, 6*sec, config.CopyFormatBinary)}, samples: samples, want: 6 * sec},
		{name: "no samples: formats not compared", format: config.CopyFormatBinary,
			runs: []*state.Run{formatRun(t, withFormat(""), 4, 15*sec, config.CopyFormatText)}, want: 15 * sec},
		{name: "two runs, binary now: the binary run's copy, not the mean", format: config.CopyFormatBinary,
			runs:    []*state.Run{formatRun(t, withFormat(""), 5, 15*sec, config.CopyFormatText), formatRun(t, withFormat(""), 3, 6*sec, config.CopyFormatBinary)},
			samples: samples, want: 6 * sec, note: "each action the mean of runs 5 and 3"},
		{name: "two runs, text now: the text run's copy", format: config.CopyFormatText,
			runs:    []*state.Run{formatRun(t, withFormat(""), 5, 15*sec, config.CopyFormatText), formatRun(t, withFormat(""), 3, 6*sec, config.CopyFormatBinary)},
			samples: samples, want: 15 * sec, note: "each action the mean of runs 5 and 3"},
		{name: "two runs, both text, binary now: converted, said", format: config.CopyFormatBinary,
			runs:    []*state.Run{formatRun(t, withFormat(""), 5, 15*sec, config.CopyFormatText), formatRun(t, withFormat(""), 3, 15*sec, config.CopyFormatText)},
			samples: samples, want: binStream, note: "1 copy in a COPY format none of them sent, priced for this plan's", wider: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range tc.runs {
				r.Target = state.Identity{Host: "db", Port: 5432, VersionNum: 150000}
			}
			p := withFormat(tc.format)
			e, err := RehearsalsSampled(p, 2, tc.runs, tc.samples)
			if err != nil {
				t.Fatal(err)
			}
			if got := byAddr(p, e)[big]; absDur(got-tc.want) > 5*time.Millisecond {
				t.Errorf("big's copy %v, want %v", got, tc.want)
			}
			if !strings.Contains(e.Note, tc.note) || (tc.note == "") != (e.Note == "") {
				t.Errorf("note %q, want %q", e.Note, tc.note)
			}
			plain, err := Rehearsals(p, 2, tc.runs)
			if err != nil {
				t.Fatal(err)
			}
			if wider := e.Spread > plain.Spread+1e-9; len(tc.runs) == 1 && wider != tc.wider {
				t.Errorf("spread %.3f against %.3f without samples: wider %v, want %v", e.Spread, plain.Spread, wider, tc.wider)
			}
		})
	}
}

// TestRehearsalRecordedFormat: a run that recorded its copies' COPY formats is taken at its word,
// whatever its bytes a row would suggest; a run recorded before it did has them inferred.
func TestRehearsalRecordedFormat(t *testing.T) {
	samples := map[string]map[string]snapshot.CopySample{"shop": {"public.big": bigSample}}
	big := plan.TableAddr("shop", "public", "big")
	p := shop(4 << 30)
	p.Actions[3].CopyFormat = config.CopyFormatBinary
	rows := p.Actions[3].RowsEstimate
	binStream := time.Duration(float64(rows*30) / 500e6 * float64(time.Second))
	const took = 15 * sec
	for _, tc := range []struct {
		name     string
		sent     string // the bytes a row the run's copy of big sent: as text's or binary's
		recorded string // the format the run recorded
		want     time.Duration
		note     string
	}{
		{"text bytes, recorded binary: same format as the plan's", config.CopyFormatText, config.CopyFormatBinary, took, ""},
		{"text bytes, recorded text: priced in binary", config.CopyFormatText, config.CopyFormatText, binStream, "1 copy in another COPY format than run 4 sent, priced for this plan's"},
		{"text bytes, not recorded: inferred text, priced in binary", config.CopyFormatText, "", binStream, "1 copy in another COPY format than run 4 sent, priced for this plan's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := formatRun(t, shop(4<<30), 4, took, tc.sent)
			for i := range r.Actions {
				if r.Actions[i].Address == big {
					r.Actions[i].CopyFormat = tc.recorded
				}
			}
			r.Target = state.Identity{Host: "db", Port: 5432, VersionNum: 150000}
			e, err := RehearsalsSampled(p, 2, []*state.Run{r}, samples)
			if err != nil {
				t.Fatal(err)
			}
			if got := byAddr(p, e)[big]; absDur(got-tc.want) > 5*time.Millisecond {
				t.Errorf("big's copy %v, want %v", got, tc.want)
			}
			if e.Note != tc.note {
				t.Errorf("note %q, want %q", e.Note, tc.note)
			}
		})
	}
	// Formats too alike in the sample to tell by bytes: only a recorded one says the run's.
	alike := map[string]map[string]snapshot.CopySample{"shop": {"public.big": {Rows: 4000, Text: 110_000, Binary: 100_000, BinaryTime: 200 * time.Microsecond}}}
	for _, recorded := range []string{"", config.CopyFormatText} {
		r := formatRun(t, shop(4<<30), 4, took, config.CopyFormatBinary)
		for i := range r.Actions {
			if r.Actions[i].Address == big {
				r.Actions[i].CopyFormat = recorded
			}
		}
		e, err := RehearsalsSampled(p, 2, []*state.Run{r}, alike)
		if err != nil {
			t.Fatal(err)
		}
		if repriced := strings.Contains(e.Note, "another COPY format"); repriced != (recorded != "") {
			t.Errorf("recorded %q: repriced %v (note %q)", recorded, repriced, e.Note)
		}
	}
}

func TestRunFormatRecorded(t *testing.T) {
	// Binary's bytes a row, recorded text: the record wins; no sample needed.
	if got := runFormat(state.RunAction{Rows: 1000, Bytes: 29_000, CopyFormat: config.CopyFormatText}, bigSample); got != config.CopyFormatText {
		t.Errorf("recorded text: %q", got)
	}
	if got := runFormat(state.RunAction{Rows: 1000, Bytes: 29_000, CopyFormat: config.CopyFormatBinary}, snapshot.CopySample{Err: "timeout"}); got != config.CopyFormatBinary {
		t.Errorf("recorded binary, failed sample: %q", got)
	}
}
