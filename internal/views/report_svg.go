package views

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgferry/pgferry/plan"
)

// The timeline's geometry, in SVG user units (the SVG scales to the page's width).
const (
	ganttWidth   = 1200.0
	ganttLeft    = 64.0 // lane labels
	ganttRight   = 16.0
	ganttTop     = 6.0
	ganttLaneGap = 6.0
	ganttAxis    = 26.0 // tick labels under the lanes
	// A bar is at least this wide, so that an action of a few milliseconds is still seen (and
	// its tooltip reached).
	ganttMinBar = 1.0
)

// ganttRowFor is the height of one row of bars: tall when there are few lanes, so that the
// timeline reads at a glance, down to 12 units for dozens of jobs (the height stays bounded by
// the jobs either way).
func ganttRowFor(lanes int) float64 {
	return math.Max(12, math.Min(30, 240/float64(max(lanes, 1))))
}

// gantt is the run's timeline: one bar per action on its lane, x is time.
type gantt struct {
	Width, Height string
	AxisY         string
	TickLabelY    string
	PlotLeft      string
	PlotRight     string
	Lanes         []ganttLane
	Ticks         []svgTick
	Bars          []ganttBar
}

type ganttLane struct {
	Label        string
	Y, H, LabelY string
	Odd          bool
}

type svgTick struct {
	Pos   string // x for a time axis, y for a value axis
	Label string
}

type ganttBar struct {
	Class      string
	X, Y, W, H string
	Title      string
}

func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// barClass is the bar's CSS classes: its phase's colour, and whether it is critical or failed.
func barClass(a ReportAction) string {
	c := "bar ph-" + reportPhase(a.Type)
	if a.Critical {
		c += " crit"
	}
	if a.Error != "" {
		c += " err"
	}
	return c
}

// reportPhase names the phase an action type belongs to, for its colour; one of a fixed set.
func reportPhase(typ string) string {
	switch ph := plan.PhaseOf(typ); ph {
	case "roles", "schema", "copy", "indexes", "constraints", "post-data", "analyze", "verify":
		return ph
	}
	return "other"
}

// actionTitle is a bar's tooltip: the action and its figures, one fact per line.
func actionTitle(a ReportAction) string {
	start, end := a.span()
	var b strings.Builder
	b.WriteString(a.Address)
	fmt.Fprintf(&b, "\n%s %s · lane %d · %s (from %s to %s)", a.Kind, a.Type, a.Lane+1, Duration(end-start), offset(start), offset(end))
	if a.Bytes > 0 || a.Rows > 0 {
		fmt.Fprintf(&b, "\n%s, %s", Bytes(a.Bytes), Rows(a.Rows))
		if s := (end - start).Seconds(); s > 0 {
			fmt.Fprintf(&b, " · %s MB/s, %s rows/s", rate(float64(a.Bytes)/1e6/s), rate(float64(a.Rows)/s))
		}
	}
	if a.Critical {
		b.WriteString("\non the critical path")
	}
	if a.Error != "" {
		b.WriteString("\nfailed: " + a.Error)
	}
	return b.String()
}

// newGantt lays the actions out: each lane gets as many rows as its actions overlap (one when
// the lane ran them one after the other, as apply does), so the height is bounded by the jobs.
func newGantt(r *ReportData) gantt {
	total := r.Duration()
	for _, a := range r.Actions {
		_, end := a.span()
		total = max(total, end)
	}
	plotW := ganttWidth - ganttLeft - ganttRight
	x := func(d time.Duration) float64 {
		if total <= 0 {
			return ganttLeft
		}
		return ganttLeft + plotW*d.Seconds()/total.Seconds()
	}

	// Rows within each lane, greedily: an action goes on the first row free at its start.
	nLanes := r.lanes()
	order := make([]int, len(r.Actions))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return r.Actions[order[i]].Start < r.Actions[order[j]].Start })
	rowOf := make([]int, len(r.Actions))
	rowEnds := make([][]float64, nLanes) // per lane, the x where each row is free again
	for _, i := range order {
		a := r.Actions[i]
		lane := max(a.Lane, 0)
		start, end := a.span()
		// Rows pack by time, not by the drawn width: a bar widened to ganttMinBar may cover
		// the next one's first unit, which is better than a row per millisecond action.
		x0, x1 := x(start), x(end)
		row := 0
		for row < len(rowEnds[lane]) && rowEnds[lane][row] > x0+0.01 {
			row++
		}
		if row == len(rowEnds[lane]) {
			rowEnds[lane] = append(rowEnds[lane], 0)
		}
		rowEnds[lane][row] = x1
		rowOf[i] = row
	}

	ganttRow := ganttRowFor(nLanes)
	ganttBarH := ganttRow - 4
	g := gantt{PlotLeft: num(ganttLeft), PlotRight: num(ganttWidth - ganttRight)}
	laneY := make([]float64, nLanes)
	y := ganttTop
	for lane := range nLanes {
		rows := max(len(rowEnds[lane]), 1)
		h := float64(rows)*ganttRow + ganttLaneGap
		laneY[lane] = y
		g.Lanes = append(g.Lanes, ganttLane{Label: fmt.Sprintf("lane %d", lane+1), Y: num(y), H: num(h),
			LabelY: num(y + h/2 + 4), Odd: lane%2 == 1})
		y += h
	}
	g.AxisY, g.TickLabelY = num(y), num(y+16)
	g.Width, g.Height = num(ganttWidth), num(y+ganttAxis)

	g.Bars = make([]ganttBar, len(r.Actions))
	for i, a := range r.Actions {
		start, end := a.span()
		x0 := x(start)
		w := max(x(end)-x0, ganttMinBar)
		by := laneY[max(a.Lane, 0)] + ganttLaneGap/2 + float64(rowOf[i])*ganttRow + (ganttRow-ganttBarH)/2
		g.Bars[i] = ganttBar{Class: barClass(a), X: num(x0), Y: num(by), W: num(w), H: num(ganttBarH), Title: actionTitle(a)}
	}
	for _, t := range timeTicks(total, 10) {
		g.Ticks = append(g.Ticks, svgTick{Pos: num(x(t)), Label: tickLabel(t)})
	}
	return g
}

// niceStep is a round step (1, 2 or 5 times a power of ten) that cuts v into at most n pieces.
func niceStep(v float64, n int) float64 {
	if v <= 0 {
		return 1
	}
	raw := v / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// timeTicks are round instants from 0 to total, at most n+1 of them; past a minute, steps are
// whole seconds or minutes (15 s, 30 s, 1 m, 2 m, 5 m, 10 m, …).
func timeTicks(total time.Duration, n int) []time.Duration {
	secs := total.Seconds()
	step := niceStep(secs, n)
	if secs > 60 {
		for _, s := range []float64{15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400} {
			step = s
			if secs/s <= float64(n) {
				break
			}
		}
	}
	var ticks []time.Duration
	for i := 0; float64(i)*step <= secs+1e-9; i++ {
		ticks = append(ticks, time.Duration(float64(i)*step*float64(time.Second)))
	}
	return ticks
}

func tickLabel(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', -1, 64) + "s"
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// The history chart's geometry.
const (
	histWidth  = 1200.0
	histHeight = 220.0
	histLeft   = 64.0
	histRight  = 16.0
	histTop    = 10.0
	histBottom = 30.0
)

// historyChart draws each run's duration as a bar and its forecast as a tick across it.
type historyChart struct {
	Width, Height string
	PlotLeft      string
	PlotRight     string
	BaseY         string
	LabelY        string
	Ticks         []svgTick
	Bars          []histBar
}

type histBar struct {
	Class      string
	X, Y, W, H string
	LabelX     string
	Label      string
	Title      string
	// Forecast mark (HasForecast false: none).
	HasForecast  bool
	FX1, FX2, FY string
}

func newHistoryChart(r *ReportData) historyChart {
	runs := r.History
	var top time.Duration
	for _, h := range runs {
		top = max(top, h.Duration, h.Forecast)
	}
	step := niceStep(top.Seconds(), 5)
	topSecs := math.Max(step, math.Ceil(top.Seconds()/step)*step)
	plotH := histHeight - histTop - histBottom
	baseY := histTop + plotH
	y := func(d time.Duration) float64 { return baseY - plotH*d.Seconds()/topSecs }

	c := historyChart{Width: num(histWidth), Height: num(histHeight), PlotLeft: num(histLeft),
		PlotRight: num(histWidth - histRight), BaseY: num(baseY), LabelY: num(baseY + 18)}
	for v := 0.0; v <= topSecs+1e-9; v += step {
		d := time.Duration(v * float64(time.Second))
		c.Ticks = append(c.Ticks, svgTick{Pos: num(y(d)), Label: tickLabel(d)})
	}
	if len(runs) == 0 {
		return c
	}
	slot := (histWidth - histLeft - histRight) / float64(len(runs))
	w := math.Min(slot*0.6, 48)
	for i, h := range runs {
		cx := histLeft + slot*(float64(i)+0.5)
		class := "run op-" + runClass(h.Operation) + " out-" + outcomeClass(h.Outcome)
		if h.ID == r.Run {
			class += " current"
		}
		title := fmt.Sprintf("run %d: %s, %s, %s, started %s", h.ID, h.Operation, h.Outcome, Duration(h.Duration), stamp(h.StartedAt))
		b := histBar{Class: class, X: num(cx - w/2), Y: num(y(h.Duration)), W: num(w), H: num(baseY - y(h.Duration)),
			LabelX: num(cx), Label: strconv.Itoa(h.ID)}
		if h.Forecast > 0 {
			title += fmt.Sprintf("; forecast %s", Duration(h.Forecast))
			if e := formatForecastError(h.Duration, h.Forecast); e != "" {
				title += " (" + e + ")"
			}
			b.HasForecast = true
			b.FX1, b.FX2, b.FY = num(cx-w/2-6), num(cx+w/2+6), num(y(h.Forecast))
		}
		b.Title = title
		c.Bars = append(c.Bars, b)
	}
	return c
}

// runClass and outcomeClass map vocabulary to one of a fixed set of CSS class names.
func runClass(op string) string {
	switch op {
	case "apply", "destroy", "cancel":
		return op
	}
	return "other"
}
