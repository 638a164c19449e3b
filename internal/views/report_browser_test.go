package views

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var reportScreenshot = flag.String("report-screenshot", "",
	"write a screenshot of the realistic report (pgbench at scale 20 and 40 small tables, 2 jobs) to this PNG file: "+
		"go test -run TestReportBrowser ./internal/views -report-screenshot ../../docs/report.png")

// chromium finds Debian's chromium: the test skips without it, except in CI, which installs it
// (scripts/install-deps.sh).
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a real browser: not under -short")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI must render the report in it: scripts/install-deps.sh installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// browserLog is what the page did that a user would not want: console errors, exceptions, error
// entries of the browser's log, and every request it made.
type browserLog struct {
	mu       sync.Mutex
	errors   []string
	requests []string
}

func (l *browserLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			l.errors = append(l.errors, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		l.errors = append(l.errors, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			l.errors = append(l.errors, fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		l.requests = append(l.requests, ev.Request.URL)
	}
}

// renderedBar is what the page shows of one timeline bar.
type renderedBar struct {
	Title    string  `json:"title"`
	Class    string  `json:"class"`
	Stroke   string  `json:"stroke"`
	Width    float64 `json:"width"`
	Height   float64 `json:"height"`
	MidY     float64 `json:"midY"`
	Left     float64 `json:"left"`
	Right    float64 `json:"right"`
	LaneLeft float64 `json:"laneLeft"`
}

type renderedLane struct {
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
}

// renderedPage is what a user sees, read from the DOM after layout.
type renderedPage struct {
	Title       string         `json:"title"`
	Bars        []renderedBar  `json:"bars"`
	Lanes       []renderedLane `json:"lanes"`
	Critical    []string       `json:"critical"`
	Tables      []string       `json:"tables"`
	Status      string         `json:"status"`
	ScrollWidth float64        `json:"scrollWidth"`
	InnerWidth  float64        `json:"innerWidth"`
}

const readPage = `(() => {
	const box = el => el.getBoundingClientRect();
	const svg = box(document.querySelector("svg.gantt"));
	return {
		title: document.title,
		bars: [...document.querySelectorAll("svg.gantt rect.bar")].map(r => {
			const b = box(r);
			return {title: r.querySelector("title").textContent, class: r.getAttribute("class"),
				stroke: getComputedStyle(r).stroke, width: b.width, height: b.height,
				midY: b.top + b.height / 2, left: b.left, right: b.right, laneLeft: svg.left};
		}),
		lanes: [...document.querySelectorAll("svg.gantt rect.lane")].map(r => ({top: box(r).top, bottom: box(r).bottom})),
		critical: [...document.querySelectorAll("#timeline ol.critical li .addr")].map(e => e.textContent),
		tables: [...document.querySelectorAll("#throughput table.tables tbody td.addr")].map(e => e.textContent),
		status: document.querySelector("h1 .status").textContent,
		scrollWidth: document.documentElement.scrollWidth,
		innerWidth: window.innerWidth,
	};
})()`

// TestReportBrowser renders reports to files and opens them in headless Chromium as a user would
// (file://, no network): every action is a visible bar on its lane with a tooltip naming it, the
// critical path is marked and listed, every table is named, nothing is loaded and nothing fails.
func TestReportBrowser(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The first run starts the browser, which lives as long as browserCtx.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))

	for _, c := range []struct {
		name  string
		data  ReportData
		print bool // print to PDF too (a report of thousands of tables is a hundred pages)
		shot  string
	}{
		{"small", smallReport(), true, ""},
		{"pgbench", pgbenchReport(), true, *reportScreenshot},
		{"thousands", bigReport(3000, 8), false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			begin := time.Now()
			ctx, cancel := chromedp.NewContext(browserCtx) // a new tab
			defer cancel()
			var l browserLog
			if err := chromedp.Listen(ctx, l.listen); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Report(&b, c.data); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "report.html")
			if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			fileURL := (&url.URL{Scheme: "file", Path: file}).String()
			// Generous: CI runs this beside the whole suite on two cores.
			timeout, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
			defer cancelTimeout()
			if err := chromedp.Do(timeout, chromedp.Navigate(fileURL)); err != nil {
				t.Fatalf("opening %s: %v", fileURL, err)
			}
			loaded := time.Since(begin)
			got, err := chromedp.Run(timeout, chromedp.Evaluate[renderedPage](readPage))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("loaded in %v, read in %v", loaded.Round(time.Millisecond), (time.Since(begin) - loaded).Round(time.Millisecond))
			checkRendered(t, c.data, got)
			if c.print {
				pdf, err := chromedp.Run(timeout, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize()))
				if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
					t.Errorf("printing the report: %v (%d bytes)", err, len(pdf))
				}
			}
			if c.shot != "" {
				png, err := chromedp.Run(timeout, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(c.shot, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d KB)", c.shot, len(png)/1024)
			}
			// Let late events (a failed load, a deferred error) arrive before reading the log.
			time.Sleep(200 * time.Millisecond)
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, e := range l.errors {
				t.Errorf("the page reported an error: %s", e)
			}
			for _, u := range l.requests {
				if u != fileURL {
					t.Errorf("the page requested %s: it must load nothing but itself", u)
				}
			}
			if len(l.requests) != 1 {
				t.Errorf("%d requests (%v), want the file's own only", len(l.requests), l.requests)
			}
			t.Logf("%d actions, %d KB: done in %v", len(c.data.Actions), b.Len()/1024, time.Since(begin).Round(time.Millisecond))
		})
	}
}

// checkRendered compares what the page shows with the run it reports.
func checkRendered(t *testing.T, r ReportData, got renderedPage) {
	t.Helper()
	if got.Title != newReportPage(&r).Title || got.Status != string(r.Outcome) {
		t.Errorf("title %q, status %q: want the migration's run and its outcome %s", got.Title, got.Status, r.Outcome)
	}
	if got.ScrollWidth > got.InnerWidth {
		t.Errorf("the page is %v px wide in a %v px window: it scrolls sideways", got.ScrollWidth, got.InnerWidth)
	}
	lanes := r.lanes()
	if len(got.Lanes) != lanes {
		t.Errorf("%d lanes drawn, want %d", len(got.Lanes), lanes)
	}
	if len(got.Bars) != len(r.Actions) {
		t.Fatalf("%d bars drawn, want one per action: %d", len(got.Bars), len(r.Actions))
	}
	var critStroke, plainStroke string
	for i, a := range r.Actions {
		bar := got.Bars[i]
		if first, _, _ := strings.Cut(bar.Title, "\n"); first != a.Address {
			t.Errorf("bar %d's tooltip starts %q, want the action %s", i, first, a.Address)
		}
		if bar.Width <= 0 || bar.Height <= 0 || bar.Left < bar.LaneLeft {
			t.Errorf("%s's bar is not visible: %+v", a.Address, bar)
		}
		if a.Lane < len(got.Lanes) && (bar.MidY < got.Lanes[a.Lane].Top || bar.MidY > got.Lanes[a.Lane].Bottom) {
			t.Errorf("%s's bar is at y %v, outside its lane %d (%v to %v)", a.Address, bar.MidY, a.Lane+1, got.Lanes[a.Lane].Top, got.Lanes[a.Lane].Bottom)
		}
		crit := strings.Contains(" "+bar.Class+" ", " crit ")
		if crit != a.Critical {
			t.Errorf("%s: bar classes %q, on the critical path: %v", a.Address, bar.Class, a.Critical)
		}
		if crit {
			critStroke = bar.Stroke
		} else {
			plainStroke = bar.Stroke
		}
	}
	if critStroke == "" || critStroke == plainStroke {
		t.Errorf("critical bars are stroked %q like the others (%q): not marked", critStroke, plainStroke)
	}
	var wantCrit []string
	for _, a := range criticalActions(r.Actions) {
		wantCrit = append(wantCrit, a.Address)
	}
	if !slices.Equal(got.Critical, wantCrit) {
		t.Errorf("critical path listed as %q, want %q", got.Critical, wantCrit)
	}
	// Every table is named: in its row of the throughput table, and in a bar's tooltip.
	var wantTables []string
	for _, tb := range reportTables(r.Actions) {
		wantTables = append(wantTables, tb.Address)
	}
	if !slices.Equal(got.Tables, wantTables) {
		t.Errorf("throughput table lists %d tables %q, want %d %q", len(got.Tables), got.Tables, len(wantTables), wantTables)
	}
	for _, tb := range wantTables {
		if !slices.ContainsFunc(got.Bars, func(b renderedBar) bool { return strings.HasPrefix(b.Title, tb) }) {
			t.Errorf("no bar's tooltip names the table %s", tb)
		}
	}
}
