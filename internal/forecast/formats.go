package forecast

import (
	"math"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// A rehearsal's copies and the plan's may go in different COPY formats: with copy_format = "auto"
// every plan (apply's own too) chooses each sampled table's format again, by samples and a measure
// of the link taken at that moment, and on a machine whose cores are busy (loopback, where both
// measures are bound by CPU) the choice goes either way from one plan to the next.
// pgbench_accounts went in text in 10 s and in binary in 4 s in two applies of one plan (the
// source's cast of its character(84) filler to text): a forecast that scales a run's copy by its
// size alone carries the run's format into the plan's. A run records each copy's format
// (state.RunAction.CopyFormat); for a run recorded before it did, its wire bytes a row tell it,
// against the table's sample now (text and binary bytes of the same rows).

// formatSpread widens the range by the share of the time priced from a copy in another format.
const formatSpread = 0.25

// minFormatRatio is how far apart (as a ratio) a table's sampled text and binary bytes a row must
// be for a run's bytes a row to tell which format it sent.
const minFormatRatio = 1.2

// runFormat is the COPY format the run's copy ra of a's table sent its rows in: as the run
// recorded it, or for a run recorded without it, told by its wire bytes a row against the table's
// sample (s); "" when that cannot be told.
func runFormat(ra state.RunAction, s snapshot.CopySample) string {
	if ra.CopyFormat != "" {
		return ra.CopyFormat
	}
	if s.Err != "" || s.Rows <= 0 || s.Text <= 0 || s.Binary <= 0 || ra.Rows <= 0 || ra.Bytes <= 0 {
		return ""
	}
	text, binary := float64(s.Text)/float64(s.Rows), float64(s.Binary)/float64(s.Rows)
	if math.Abs(math.Log(text/binary)) < math.Log(minFormatRatio) {
		return ""
	}
	row := float64(ra.Bytes) / float64(ra.Rows)
	if math.Abs(math.Log(row/text)) < math.Abs(math.Log(row/binary)) {
		return config.CopyFormatText
	}
	return config.CopyFormatBinary
}

// binaryPace is how fast the source streamed the samples' rows in binary, bytes a second (the
// plan's samples, all tables together: CopyBytesPerSec's measure); 0 when not measured.
func binaryPace(samples map[string]map[string]snapshot.CopySample) float64 {
	var bytes int64
	var took time.Duration
	for _, db := range samples {
		for _, s := range db {
			if s.Err == "" && s.Binary > 0 && s.BinaryTime > 0 {
				bytes, took = bytes+s.Binary, took+s.BinaryTime
			}
		}
	}
	if took <= 0 {
		return 0
	}
	return float64(bytes) / took.Seconds()
}

// sample is the copy-format sample of a's table in samples.
func sample(samples map[string]map[string]snapshot.CopySample, a *plan.Action) (snapshot.CopySample, bool) {
	s, ok := samples[a.Database][a.Schema+"."+a.Name]
	return s, ok
}

// reformat is d, the duration of a copy the run sent in the other format (ra, its fixed part
// fixed, d already scaled to the plan's size: by scale = d's variable part over the run's), priced
// for the format the plan chose instead (to). A copy takes the longer of its bytes over the link
// and the servers' work; the source's COPY pace to nowhere (pace, the samples' binary bytes a
// second) bounds the latter from below:
//   - to binary (the run sent text): the plan chose binary because the link outpaces the source's
//     COPY (or text is not enough smaller), so the copy is bound by CPU, which binary spends less
//     of: the run's rows in binary bytes (the sample's ratio) at pace, never more than the run's
//     time in text;
//   - to text (the run sent binary): its stream shrinks by the sample's text-to-binary ratio where
//     the link bounded it, but text costs the servers at least binary's work (more, where a
//     character(n) column is cast), so never less than the run's binary bytes at pace: a run
//     whose binary copy went at the source's pace was bound by CPU, and stays so in text.
//
// Unknown pace: to binary unchanged; to text by the ratio alone.
func reformat(d, fixed time.Duration, scale float64, ra state.RunAction, s snapshot.CopySample, to string, pace float64) time.Duration {
	if s.Text <= 0 || s.Binary <= 0 {
		return d
	}
	v := d - fixed
	switch to {
	case config.CopyFormatBinary:
		if pace <= 0 {
			return d
		}
		binBytes := float64(ra.Bytes) * float64(s.Binary) / float64(s.Text)
		return fixed + min(v, time.Duration(scale*binBytes/pace*float64(time.Second)))
	case config.CopyFormatText:
		return fixed + textTime(v, float64(s.Text)/float64(s.Binary), scale*float64(ra.Bytes), pace)
	}
	return d
}

// textTime is a binary copy's stream time v in text: v times ratio (text's bytes over binary's),
// not below the time the source takes to send binBytes in binary at pace (0: unknown).
func textTime(v time.Duration, ratio, binBytes, pace float64) time.Duration {
	t := time.Duration(float64(v) * ratio)
	if pace > 0 {
		t = max(t, time.Duration(binBytes/pace*float64(time.Second)))
	}
	return t
}

// formatChange prices run action ra of plan action a (duration d, scaled to the plan, its
// variable part scaled by scale; fixed its fixed part) in the plan's format when the run sent
// another; changed says it did.
func (b *basis) formatChange(a *plan.Action, ra state.RunAction, d, fixed time.Duration, scale float64) (time.Duration, bool) {
	if b.samples == nil || !isCopyType(a.Type) || a.CopyFormat == "" {
		return d, false
	}
	s, ok := sample(b.samples, a)
	if !ok || s.Err != "" || s.Text <= 0 || s.Binary <= 0 || ra.Rows <= 0 || ra.Bytes <= 0 {
		return d, false // no ratio to price the other format by, or nothing was sent
	}
	then := runFormat(ra, s)
	if then == "" || then == a.CopyFormat {
		return d, false
	}
	return reformat(d, fixed, scale, ra, s, a.CopyFormat, b.pace), true
}
