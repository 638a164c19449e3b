package forecast

import (
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
)

// Reformatted is e, the model's estimate of early (a plan's actions as they were before the
// copy-format samples chose formats: the early probe's, app.startProbe), for now: the same actions
// with the formats the samples chose (samples: snapshot.CopySamples, by database and table key).
// The samples choose text only where bytes bound the copy (a link slower than the source's COPY,
// plan.LinkBoundsCopy) and text is smaller on the wire, so a copy whose format changed takes
// its stream's time times its table's sampled bytes in the new format over the old; its fixed
// part (the quickest copy of the estimate: opening COPY, the commit) stays. Binary to text is not
// quicker than the source sends the table's rows in binary at the samples' pace, though: on a
// machine whose cores are busy (loopback) the link's measure is bound by CPU too and can choose
// text where bytes do not bound the copy, and text's work is at least binary's. It is e itself when no
// copy's format changed, and when early and now are not the same actions (the caller probes again).
func Reformatted(e *Estimate, early, now []*plan.Action, samples map[string]map[string]snapshot.CopySample) *Estimate {
	if e == nil || len(early) != len(now) || len(e.Durations) != len(now) {
		return e
	}
	var c *Estimate
	pace := binaryPace(samples)
	fixed := time.Duration(-1)
	for i, a := range now {
		if isCopyType(a.Type) && (fixed < 0 || e.Durations[i] < fixed) {
			fixed = e.Durations[i]
		}
	}
	for i, a := range now {
		b := early[i]
		if !isCopyType(a.Type) || a.Address != b.Address || a.CopyFormat == b.CopyFormat || a.CopyFormat == "" || b.CopyFormat == "" {
			continue
		}
		s, ok := samples[a.Database][a.Schema+"."+a.Name]
		from, to := wireBytes(s, b.CopyFormat), wireBytes(s, a.CopyFormat)
		if !ok || s.Err != "" || from <= 0 || to <= 0 {
			continue
		}
		if c == nil {
			cp := *e
			cp.Durations = append([]time.Duration(nil), e.Durations...)
			c = &cp
		}
		d := e.Durations[i]
		f := min(max(fixed, 0), d)
		c.Durations[i] = f + time.Duration(float64(d-f)*float64(to)/float64(from))
		if b.CopyFormat == config.CopyFormatBinary && a.CopyFormat == config.CopyFormatText && a.RowsEstimate > 0 && s.Rows > 0 {
			// Text costs the servers at least binary's work: not quicker than the source sends the
			// table in binary at the samples' pace (textTime).
			binBytes := float64(a.RowsEstimate) * float64(s.Binary) / float64(s.Rows)
			c.Durations[i] = f + textTime(d-f, float64(to)/float64(from), binBytes, pace)
		}
	}
	if c == nil {
		return e
	}
	return c
}

// wireBytes is what a sample sent in format; 0 when unknown.
func wireBytes(s snapshot.CopySample, format string) int64 {
	switch format {
	case config.CopyFormatText:
		return s.Text
	case config.CopyFormatBinary:
		return s.Binary
	}
	return 0
}
