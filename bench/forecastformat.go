package main

// Which COPY format the largest table went in, by the plan and by its apply. With copy_format =
// "auto" (the bench's configuration leaves it so, as a user would), every plan decides it again
// from that moment's samples and measure of the link, and apply plans again: on loopback both
// measures are CPU-bound (2 cores shared by two servers and pgferry), so the choice can differ
// between a plan and its own apply, and between one apply and the next. pgbench_accounts in text
// took 2–2.5 times as long as in binary in the same bench run (the source's cast of character(n)
// to text), so a flip moves the whole apply by up to half: the bench prints the formats beside
// the error, so that a miss caused by a flip is seen as one.

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// forecastLargest is the table whose format the bench reports: the largest one, which growLargest grows.
const forecastLargest = `table["public"."pgbench_accounts"]`

// copyFormatSeen is a plan's choice of the largest table's COPY format and what its sample measured.
type copyFormatSeen struct {
	Format     string  // "binary" or "text" ("": not in the plan)
	TextRow    float64 // the sample's text bytes per row (0: not sampled)
	BinaryRow  float64 // the sample's binary bytes per row
	ApplyRow   float64 // the apply's wire bytes per row (0: not read)
	ApplyGuess string  // the format the apply's bytes per row say it used ("": unknown)
}

var sampleRe = regexp.MustCompile(`a sample of ([\d,]+) rows: text (\d+) (kB|B), binary (\d+) (kB|B)`)

// planCopyFormat reads the largest table's copy format and sample out of a plan --json document.
func planCopyFormat(doc []byte) copyFormatSeen {
	var d struct {
		Actions []struct {
			Address    string   `json:"address"`
			CopyFormat string   `json:"copy_format"`
			Details    []string `json:"details"`
		} `json:"actions"`
	}
	var s copyFormatSeen
	if json.Unmarshal(bytes.TrimSpace(doc), &d) != nil {
		return s
	}
	for _, a := range d.Actions {
		if !strings.HasSuffix(a.Address, forecastLargest) {
			continue
		}
		s.Format = a.CopyFormat
		for _, det := range a.Details {
			m := sampleRe.FindStringSubmatch(det)
			if m == nil {
				continue
			}
			rows, _ := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
			if rows > 0 {
				s.TextRow, s.BinaryRow = sampleSize(m[2], m[3])/rows, sampleSize(m[4], m[5])/rows
			}
		}
	}
	return s
}

func sampleSize(n, unit string) float64 {
	v, _ := strconv.ParseFloat(n, 64)
	if unit == "kB" {
		v *= 1000
	}
	return v
}

var completeRe = regexp.MustCompile(regexp.QuoteMeta(forecastLargest) + `: Creation complete after [^\[]*\[([\d.]+)([kMG]?) rows, ([\d.]+) (B|KiB|MiB|GiB)\]`)

// applyCopyFormat reads the largest table's rows and wire bytes out of apply's output and names
// the format whose sampled bytes per row they are closer to (by ratio; "" when the two formats'
// samples are within 20% of each other or nothing was read).
func (s *copyFormatSeen) applyCopyFormat(log []byte) {
	m := completeRe.FindSubmatch(log)
	if m == nil {
		return
	}
	rows, _ := strconv.ParseFloat(string(m[1]), 64)
	rows *= map[string]float64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[string(m[2])]
	b, _ := strconv.ParseFloat(string(m[3]), 64)
	b *= map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[string(m[4])]
	if rows <= 0 || b <= 0 {
		return
	}
	s.ApplyRow = b / rows
	if s.TextRow <= 0 || s.BinaryRow <= 0 || math.Abs(math.Log(s.TextRow/s.BinaryRow)) < math.Log(1.2) {
		return
	}
	s.ApplyGuess = "binary"
	if math.Abs(math.Log(s.ApplyRow/s.TextRow)) < math.Abs(math.Log(s.ApplyRow/s.BinaryRow)) {
		s.ApplyGuess = "text"
	}
}

// readApplyFormat fills the apply's side of c.Format from its log.
func (c *ForecastCase) readApplyFormat(logPath string) {
	if b, err := os.ReadFile(logPath); err == nil {
		c.Format.applyCopyFormat(b)
	}
}

// formatCell is "plan/apply" formats of the largest table's copy, "!" marking a flip between them
// or from the previous apply (prev).
func (c *ForecastCase) formatCell(prev string) string {
	f := c.Format
	if f.Format == "" && f.ApplyGuess == "" {
		return "—"
	}
	p, a := orDash(f.Format), orDash(f.ApplyGuess)
	cell := p + "/" + a
	if (f.Format != "" && f.ApplyGuess != "" && f.Format != f.ApplyGuess) || (prev != "" && f.ApplyGuess != "" && prev != f.ApplyGuess) {
		cell += "!"
	}
	return cell
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// prevFormat is the format the apply before step i sent the largest table in ("": none known).
func (fr *ForecastResult) prevFormat(i int) string {
	if i == 0 || i > len(fr.Cases) {
		return ""
	}
	return fr.Cases[i-1].Format.ApplyGuess
}
