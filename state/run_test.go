package state

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// bigRun is an apply of n actions across 8 lanes, as a migration of n/3 tables would record.
func bigRun(n int) *Run {
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r := &Run{RunSummary: RunSummary{Operation: OpApply, Outcome: StatusSucceeded, StartedAt: start,
		FinishedAt: start.Add(95 * time.Minute), ToolVersion: "1.2.3", Jobs: 8,
		Planned:  RunSizes{Databases: 3, Tables: n / 3, Bytes: 50 << 30, Rows: 400e6},
		PhasesMS: map[string]int64{"copy": 3_600_000, "indexes": 1_200_000}}}
	for i := range n {
		typ, phase := "table", "copy"
		switch i % 3 {
		case 1:
			typ, phase = "index", "indexes"
		case 2:
			typ, phase = "constraint", "constraints"
		}
		s := time.Duration(i) * 1117 * time.Millisecond
		r.Actions = append(r.Actions, RunAction{
			Address: fmt.Sprintf(`database.db%d.%s["public"."table_%05d_%s"]`, i%3, typ, i, typ),
			Type:    typ, Phase: phase, Lane: i % 8, Start: s, End: s + time.Duration(i%977)*143*time.Millisecond,
			Bytes: int64(i) * 81920, Rows: int64(i) * 1000, Outcome: ActionApplied,
		})
		if typ == "table" {
			r.Actions[i].BytesEstimate, r.Actions[i].RowsEstimate = int64(i)*40960, int64(i)*990
		}
	}
	return r
}

func TestRunEncoding(t *testing.T) {
	for _, tc := range []struct {
		actions  int
		maxBytes int
	}{
		{0, 1 << 10},
		{30, 4 << 10},
		{5000, 96 << 10}, // ≈ 1,700 tables with an index and a constraint each
	} {
		t.Run(fmt.Sprint(tc.actions), func(t *testing.T) {
			r := bigRun(tc.actions)
			prepareRun("shop", 7, r)
			data, err := encodeRun(r)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d actions: %d bytes stored", tc.actions, len(data))
			if len(data) > tc.maxBytes {
				t.Errorf("%d actions take %d bytes stored, want at most %d", tc.actions, len(data), tc.maxBytes)
			}
			got, err := decodeRun("test", data)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != 7 || got.Migration != "shop" || got.ActionCount != tc.actions || !got.Detailed {
				t.Errorf("summary = %+v", got.RunSummary)
			}
			if len(r.Actions) == 0 {
				r.Actions = RunActions{} // decoded as empty columns
			}
			if !reflect.DeepEqual(got.Actions, r.Actions) {
				t.Errorf("actions differ after a round trip")
			}
		})
	}
}

func TestRunDecodeErrors(t *testing.T) {
	if _, err := decodeRun("run file x", []byte("{}")); err == nil {
		t.Error("plain JSON accepted as a gzipped run")
	}
	newer := &Run{RunSummary: RunSummary{FormatVersion: RunFormatVersion + 1}}
	data, _ := gzipJSON(newer)
	if _, err := decodeRun("run file x", data); err == nil {
		t.Error("a run of a newer format accepted")
	}
	var as RunActions
	if err := as.UnmarshalJSON([]byte(`{"address":["a","b"],"type":["x"]}`)); err == nil {
		t.Error("columns of unequal length accepted")
	}
	if err := as.UnmarshalJSON([]byte(`{"address":["a"],"type":["x"],"phase":["p"],"lane":[0],"start_ms":[0],"end_ms":[5],"bytes":[1],"rows":[1],"outcome":["Applied"],"bytes_estimate":[1,2]}`)); err == nil {
		t.Error("an estimate column of another length accepted")
	}
	if err := as.UnmarshalJSON([]byte(`{"address":["a"],"type":["x"],"phase":["p"],"lane":[0],"start_ms":[0],"end_ms":[5],"bytes":[1],"rows":[1],"outcome":["Applied"],"copy_format":["text","binary"]}`)); err == nil {
		t.Error("a copy_format column of another length accepted")
	}
	// A run recorded before the planned estimates (and the copies' formats) were kept has none.
	if err := as.UnmarshalJSON([]byte(`{"address":["a"],"type":["x"],"phase":["p"],"lane":[0],"start_ms":[0],"end_ms":[5],"bytes":[1],"rows":[1],"outcome":["Applied"]}`)); err != nil || len(as) != 1 || as[0].BytesEstimate != 0 || as[0].CopyFormat != "" || as[0].End != 5*time.Millisecond {
		t.Errorf("a run without estimates: %v %+v", err, as)
	}
}

func TestTrimmable(t *testing.T) {
	var runs []RunSummary
	for id := 1; id <= RunDetailKept+5; id++ {
		op, out := OpDestroy, StatusSucceeded
		if id%2 == 1 {
			op = OpApply
		}
		if id > 2 {
			out = StatusFailed // only run 1 is a succeeded apply
		}
		runs = append(runs, RunSummary{ID: id, Operation: op, Outcome: out, Detailed: true})
	}
	// Runs 1..5 fall out of the window; run 1, the latest succeeded apply, keeps its detail.
	if got, want := trimmable(runs), []int{2, 3, 4, 5}; !reflect.DeepEqual(got, want) {
		t.Errorf("trimmable = %v, want %v", got, want)
	}
}

// testRunStore is the contract both backends keep.
func testRunStore(t *testing.T, s RunStore) {
	ctx := context.Background()
	if runs, err := s.Runs(ctx, "shop"); err != nil || len(runs) != 0 {
		t.Fatalf("Runs before any = %v, %v", runs, err)
	}
	if r, err := s.Run(ctx, "shop", 1); err != nil || r != nil {
		t.Fatalf("Run(1) before any = %v, %v", r, err)
	}
	var want []*Run
	for i := range RunDetailKept + 3 {
		r := bigRun(30)
		r.Operation = []Operation{OpApply, OpDestroy}[i%2]
		r.StartedAt = r.StartedAt.Add(time.Duration(i) * time.Hour)
		r.FinishedAt = r.StartedAt.Add(time.Minute)
		id, err := s.AppendRun(ctx, "shop", r)
		if err != nil {
			t.Fatal(err)
		}
		if id != i+1 || r.ID != id {
			t.Fatalf("run %d got ID %d (r.ID %d)", i+1, id, r.ID)
		}
		want = append(want, r)
	}
	if _, err := s.AppendRun(ctx, "other", bigRun(1)); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != len(want) {
		t.Fatalf("%d runs, want %d", len(runs), len(want))
	}
	for i, r := range runs {
		w := want[i]
		if r.ID != i+1 || r.Operation != w.Operation || !r.StartedAt.Equal(w.StartedAt) || r.Duration() != time.Minute || r.ActionCount != 30 {
			t.Errorf("run %d: %+v", i+1, r)
		}
		// The 3 oldest fall out of the window but run 23 is the latest succeeded apply: 1 and 3
		// (applies, older) and 2 lose their detail.
		if detailed := i >= 3; r.Detailed != detailed {
			t.Errorf("run %d: detailed %v, want %v", r.ID, r.Detailed, detailed)
		}
	}
	last, err := s.Run(ctx, "shop", len(want))
	if err != nil || last == nil {
		t.Fatalf("Run(last) = %v, %v", last, err)
	}
	if !reflect.DeepEqual(last.Actions, want[len(want)-1].Actions) {
		t.Error("the last run's actions differ from those appended")
	}
	first, err := s.Run(ctx, "shop", 1)
	if err != nil || first == nil || len(first.Actions) != 0 || first.ActionCount != 30 {
		t.Fatalf("Run(1) after trimming = %+v, %v", first, err)
	}
	if other, _ := s.Runs(ctx, "other"); len(other) != 1 || other[0].ID != 1 {
		t.Errorf("runs of another migration = %+v", other)
	}
}

func TestLocalRuns(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testRunStore(t, l)
	// A state beside the runs is listed as before: runs/ is no migration.
	if _, err := l.List(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPGRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	dsn := startPG(t)
	p, err := NewPG(context.Background(), dsn, "pgferry")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	testRunStore(t, p)
}
