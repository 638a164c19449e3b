package forecast

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// tables is a plan of database shop with n tables t0…, each of size bytes and rows rows with
// its primary key, then the database's analyze and verify.
func tables(n int, size, rows int64) *plan.Plan {
	db := "shop"
	schema := plan.DatabaseAddr(db) + ".schema"
	acts := []*plan.Action{
		{Address: plan.DatabaseAddr(db), Type: plan.TypeDatabase, Kind: plan.Create, Database: db},
		{Address: schema, Type: plan.TypeSchema, Kind: plan.Create, Database: db, DependsOn: []string{plan.DatabaseAddr(db)}},
	}
	var copies, last []string
	for k := range n {
		name := fmt.Sprintf("t%d", k)
		t := plan.TableAddr(db, "public", name)
		ix := plan.IndexAddr(db, "public", name+"_pkey")
		acts = append(acts,
			&plan.Action{Address: t, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: name, BytesEstimate: size, RowsEstimate: rows, DependsOn: []string{schema}},
			&plan.Action{Address: ix, Type: plan.TypeIndex, Kind: plan.Create, Database: db, Schema: "public", Name: name + "_pkey", Table: name, DependsOn: []string{t}})
		copies, last = append(copies, t), append(last, ix)
	}
	analyze := plan.DatabaseAddr(db) + ".analyze"
	acts = append(acts,
		&plan.Action{Address: analyze, Type: plan.TypeAnalyze, Kind: plan.Create, Database: db, DependsOn: copies},
		&plan.Action{Address: plan.DatabaseAddr(db) + ".verify", Type: plan.TypeVerify, Kind: plan.Create, Database: db, DependsOn: append(last, analyze)})
	return &plan.Plan{Migration: "m", Databases: []string{db}, Actions: acts}
}

// tinyDurations are a rehearsal's times for tables(n, …) of tiny tables: their time is the fixed
// cost of each action (a copy 8 ms, an index 5 ms; verify 10 ms and analyze 30 ms).
func tinyDurations(p *plan.Plan) []time.Duration {
	out := make([]time.Duration, len(p.Actions))
	for i, a := range p.Actions {
		switch a.Type {
		case plan.TypeDatabase:
			out[i] = ms(200)
		case plan.TypeSchema:
			out[i] = ms(100) + ms(len(p.Actions)/2)
		case plan.TypeTable:
			out[i] = ms(8)
		case plan.TypeIndex:
			out[i] = ms(5)
		case plan.TypeAnalyze:
			out[i] = ms(30)
		case plan.TypeVerify:
			out[i] = ms(10)
		}
	}
	return out
}

// modelOf is a model's estimate of p as Probe would price it on servers that copy 100 MiB/s a
// stream (10 ms besides), build an index over 200 MiB of table a second (5 ms besides) and
// verify 400 MiB/s, with the cold model's range.
func modelOf(p *plan.Plan) *Estimate {
	const mib = 1 << 20
	e := &Estimate{Basis: BasisModel, Durations: make([]time.Duration, len(p.Actions)), Fixed: sec, Spread: 0.35}
	var data int64
	for _, a := range p.Actions {
		if a.Type == plan.TypeTable {
			data += a.BytesEstimate
		}
	}
	at := func(n int64, perSec float64) time.Duration { return time.Duration(float64(n) / perSec * float64(sec)) }
	for i, a := range p.Actions {
		switch a.Type {
		case plan.TypeDatabase:
			e.Durations[i] = ms(200)
		case plan.TypeSchema:
			e.Durations[i] = ms(100) + ms(len(p.Actions)/2)
		case plan.TypeTable:
			e.Durations[i] = ms(10) + at(a.BytesEstimate, 100*mib)
		case plan.TypeIndex:
			e.Durations[i] = ms(5) + at(p.Action(plan.TableAddr(a.Database, a.Schema, a.Table)).BytesEstimate, 200*mib)
		case plan.TypeAnalyze:
			e.Durations[i] = ms(100)
		case plan.TypeVerify:
			e.Durations[i] = ms(10) + at(data, 400*mib)
		}
	}
	return e
}

func expected(t *testing.T, p *plan.Plan, jobs int, e *Estimate) time.Duration {
	t.Helper()
	f, err := Make(p, jobs, e)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(f.ExpectedMS) * time.Millisecond
}

// TestRehearsalOutgrown: an action that grew far past its rehearsal's measure is priced by the
// model, not by its tiny measure times the growth; a normal growth is scaled as before.
func TestRehearsalOutgrown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		then, now  *plan.Plan
		durs       func(*plan.Plan) []time.Duration
		jobs       int
		outgrown   int
		note       string
		wantFactor float64 // the forecast within this factor of the model's (0: of the run's wall time)
	}{
		{
			// The reported case: rehearsed with 1,000 rows (17.5 KiB), the table holds 1.5M rows
			// (209 MiB) now. Its copy, its primary key and verify grew 12,000×: scaled, 40 ms of
			// the copy's fixed cost became 8 minutes.
			name: "1,000 rows to 1.5M", then: tables(1, 17920, 1000), now: tables(1, 209<<20, 1500000), jobs: 2,
			durs: func(p *plan.Plan) []time.Duration {
				d := tinyDurations(p)
				d[2], d[3] = ms(40), ms(20)
				return d
			},
			outgrown: 3, wantFactor: 1.5,
			note: "3 actions grew 12,000× or more since run 4: priced by the model of these servers",
		},
		{
			// 200 tiny tables, each grown a thousandfold: the quickest quarter of their copies is
			// their whole time, so scaling left them at 8 ms; the model prices their bytes.
			name: "200 tiny tables grew 1000×", then: tables(200, 80<<10, 1000), now: tables(200, 80<<20, 1000000), jobs: 4,
			durs: tinyDurations, outgrown: 401, wantFactor: 1.5,
			note: "401 actions grew 1,000× or more since run 4: priced by the model of these servers",
		},
		{
			// 200 tiny tables grown by a fifth: their time is their fixed cost, and stays.
			name: "200 tiny tables grew by a fifth", then: tables(200, 80<<10, 1000), now: tables(200, 96<<10, 1200), jobs: 4,
			durs: tinyDurations,
		},
		{
			// A large table grown by half: scaled from the run, as before (the acceptance's ±20%).
			name: "large table grew by half", then: tables(1, 4<<30, 40<<20), now: tables(1, 6<<30, 60<<20), jobs: 2,
			durs: func(p *plan.Plan) []time.Duration {
				d := tinyDurations(p)
				d[2], d[3] = 40*sec, 20*sec
				return d
			},
		},
		{
			// 512 KiB grown fifteenfold: the basis copy ran its two sides one after the other.
			name: "small table grew 15×", then: tables(1, 512<<10, 5000), now: tables(1, 7680<<10, 75000), jobs: 2,
			durs: func(p *plan.Plan) []time.Duration {
				d := tinyDurations(p)
				d[2], d[3] = ms(30), ms(12)
				return d
			},
			outgrown: 3, wantFactor: 1.5,
			note: "3 actions grew 15× or more since run 4: priced by the model of these servers",
		},
		{
			// 64 MiB grown fifteenfold: measured well enough to scale.
			name: "64 MiB grew 15×", then: tables(1, 64<<20, 600000), now: tables(1, 960<<20, 9000000), jobs: 2,
			durs: func(p *plan.Plan) []time.Duration {
				d := tinyDurations(p)
				d[2], d[3] = ms(650), ms(330)
				return d
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := runOf(t, tc.then, tc.durs(tc.then), tc.jobs, sec)
			e, err := Rehearsal(tc.now, tc.jobs, run)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Outgrown(); got != tc.outgrown {
				t.Fatalf("%d actions outgrown, want %d", got, tc.outgrown)
			}
			m := modelOf(tc.now)
			w := e.WithModel(m)
			if tc.outgrown == 0 {
				if w != e {
					t.Error("WithModel changed an estimate nothing outgrew")
				}
				// Scaled from the run: the time it took, each action grown as its data.
				scaled := expected(t, tc.now, tc.jobs, e)
				if tc.name == "200 tiny tables grew by a fifth" {
					if ratio := float64(scaled) / float64(run.Duration()); ratio < 0.95 || ratio > 1.2 {
						t.Errorf("forecast %v for a run of %v: fixed costs do not grow", scaled, run.Duration())
					}
				}
				return
			}
			if w.Note != tc.note {
				t.Errorf("note %q\nwant %q", w.Note, tc.note)
			}
			if w.Spread <= e.Spread {
				t.Errorf("spread %v, not wider than the rehearsal's %v", w.Spread, e.Spread)
			}
			got, model := expected(t, tc.now, tc.jobs, w), expected(t, tc.now, tc.jobs, m)
			t.Logf("scaled from the run %v, with the model %v, the model's %v", expected(t, tc.now, tc.jobs, e), got, model)
			if r := float64(got) / float64(model); r > tc.wantFactor || r < 1/tc.wantFactor {
				t.Errorf("forecast %v, the model's %v: %.2f×", got, model, r)
			}
			if w.Outgrown() != 0 || !strings.Contains(w.Note, "priced by the model") {
				t.Errorf("still outgrown after the model: %d", w.Outgrown())
			}
			// The model could not be measured: scaled, and the widest range.
			u := e.Unmodelled("connection refused")
			if u.Spread != maxSpread || !strings.Contains(u.Note, "the model could not be measured: connection refused") {
				t.Errorf("unmodelled: spread %v note %q", u.Spread, u.Note)
			}
		})
	}
}

// TestRehearsalOutgrownLargeGrowth: the acceptance's "grown by half" (rehearsal_test's shop) is
// nothing outgrown: WithModel leaves it as it is.
func TestRehearsalOutgrownLargeGrowth(t *testing.T) {
	run := runOf(t, shop(4<<30), shopDurations, 2, 3*sec)
	e, err := Rehearsal(shop(6<<30), 2, run)
	if err != nil {
		t.Fatal(err)
	}
	if e.Outgrown() != 0 || e.WithModel(modelOf(shop(6<<30))) != e {
		t.Errorf("%d outgrown", e.Outgrown())
	}
}

// TestRehearsalsOutgrown: with several runs, the newest's outgrown actions are the combined
// estimate's.
func TestRehearsalsOutgrown(t *testing.T) {
	then, now := tables(1, 17920, 1000), tables(1, 209<<20, 1500000)
	r1 := runOf(t, then, tinyDurations(then), 2, sec)
	r2 := runOf(t, then, tinyDurations(then), 2, sec)
	r2.ID = 5
	e, err := Rehearsals(now, 2, []*state.Run{r2, r1})
	if err != nil {
		t.Fatal(err)
	}
	if e.Outgrown() != 3 {
		t.Fatalf("%d outgrown, want 3", e.Outgrown())
	}
	if w := e.WithModel(modelOf(now)); !strings.HasSuffix(w.Note, "; 3 actions grew 12,000× or more since run 5: priced by the model of these servers") {
		t.Errorf("note %q", w.Note)
	}
}

func TestGrowth(t *testing.T) {
	for g, want := range map[float64]string{12.7: "12×", 100.5: "100×", 12230: "12,000×", 1e6: "1,000,000×", 0.5: "1×"} {
		if got := growth(g); got != want {
			t.Errorf("growth(%v) = %q, want %q", g, got, want)
		}
	}
}

// TestRehearsalOutgrownFormat: a copy that outgrew its rehearsal and was sent in another COPY
// format is the model's (priced in the plan's format): the note does not count it as reformatted.
func TestRehearsalOutgrownFormat(t *testing.T) {
	samples := map[string]map[string]snapshot.CopySample{"shop": {"public.big": bigSample}}
	run := formatRun(t, shop(10<<20), 4, ms(50), config.CopyFormatText)
	now := shop(2 << 30)
	now.Actions[3].CopyFormat = config.CopyFormatBinary
	e, err := RehearsalSampled(now, 2, run, samples)
	if err != nil {
		t.Fatal(err)
	}
	if e.Outgrown() != 3 || strings.Contains(e.Note, "COPY format") || e.isReformatted(3) {
		t.Fatalf("%d outgrown, note %q", e.Outgrown(), e.Note)
	}
	w := e.WithModel(modelOf(now))
	if w.Durations[3] != modelOf(now).Durations[3] || w.Note != "3 actions grew 180× or more since run 4: priced by the model of these servers" {
		t.Errorf("big %v, note %q", w.Durations[3], w.Note)
	}
}
