package forecast

import (
	"testing"
	"time"

	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
)

// TestReformatted: the early probe priced binary copies; the samples chose text for big (text 60%
// of binary on the wire, on a link that bounds the copy): big's stream takes 60% of its time, its
// fixed part (the quickest copy's, 1 s) kept; nothing else changes.
func TestReformatted(t *testing.T) {
	early := shop(4 << 30).Actions
	for _, a := range early {
		if isCopyType(a.Type) {
			a.CopyFormat = "binary"
		}
	}
	durs := append([]time.Duration(nil), shopDurations...)
	e := &Estimate{Basis: BasisModel, Durations: durs, Fixed: sec, Spread: 0.3}
	samples := map[string]map[string]snapshot.CopySample{"shop": {
		"public.big":   {Rows: 100, Text: 600, Binary: 1000},
		"public.small": {Rows: 100, Text: 500, Binary: 1000},
	}}
	textFor := func(names ...string) []*plan.Action {
		now := shop(4 << 30).Actions
		for _, a := range now {
			if !isCopyType(a.Type) {
				continue
			}
			a.CopyFormat = "binary"
			for _, n := range names {
				if a.Name == n {
					a.CopyFormat = "text"
				}
			}
		}
		return now
	}
	bigIdx := -1
	for i, a := range early {
		if a.Address == bigAddr {
			bigIdx = i
		}
	}
	for _, tc := range []struct {
		name    string
		now     []*plan.Action
		samples map[string]map[string]snapshot.CopySample
		big     time.Duration // big's copy
		same    bool          // e itself
	}{
		{name: "no format changed", now: textFor(), samples: samples, big: 6 * sec, same: true},
		{name: "big in text", now: textFor("big"), samples: samples, big: sec + 5*sec*6/10},
		{name: "big not sampled", now: textFor("big"), samples: nil, big: 6 * sec, same: true},
		{name: "sample failed", now: textFor("big"), samples: map[string]map[string]snapshot.CopySample{"shop": {"public.big": {Err: "boom"}}},
			big: 6 * sec, same: true},
		{name: "other actions", now: textFor("big")[1:], samples: samples, big: 6 * sec, same: true},
		// The samples streamed binary at 100 MB/s: big's 10 B a row take longer at that pace than
		// its stream by the bytes, and text's work is at least binary's.
		{name: "big in text, not quicker than the source's binary pace", now: textFor("big"), samples: map[string]map[string]snapshot.CopySample{"shop": {
			"public.big": {Rows: 100, Text: 600, Binary: 1000, BinaryTime: 10 * time.Microsecond}}},
			big: sec + time.Duration(float64(early[3].RowsEstimate)*10/100e6*float64(time.Second))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Reformatted(e, early, tc.now, tc.samples)
			if (got == e) != tc.same {
				t.Errorf("returned e itself: %v, want %v", got == e, tc.same)
			}
			if got.Durations[bigIdx] != tc.big {
				t.Errorf("big's copy %v, want %v", got.Durations[bigIdx], tc.big)
			}
			for i, d := range got.Durations {
				if i != bigIdx && d != shopDurations[i] {
					t.Errorf("%s: %v, want %v unchanged", early[i].Address, d, shopDurations[i])
				}
			}
			if got.Fixed != e.Fixed || got.Spread != e.Spread || got.Basis != e.Basis {
				t.Errorf("fixed %v spread %v basis %q changed", got.Fixed, got.Spread, got.Basis)
			}
			if e.Durations[bigIdx] != 6*sec {
				t.Error("e changed")
			}
		})
	}
}
