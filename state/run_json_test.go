package state

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// refColumns is how runColumns were filled before they were streamed (the format's reference).
func refColumns(as RunActions) runColumns {
	n := len(as)
	c := runColumns{
		Address: make([]string, n), Type: make([]string, n), Phase: make([]string, n), Lane: make([]int, n),
		StartMS: make([]int64, n), EndMS: make([]int64, n), Bytes: make([]int64, n), Rows: make([]int64, n),
		Outcome: make([]ActionStatus, n),
	}
	for i, a := range as {
		c.Address[i], c.Type[i], c.Phase[i], c.Lane[i] = a.Address, a.Type, a.Phase, a.Lane
		c.StartMS[i], c.EndMS[i] = a.Start.Milliseconds(), a.End.Milliseconds()
		c.Bytes[i], c.Rows[i], c.Outcome[i] = a.Bytes, a.Rows, a.Outcome
		if a.BytesEstimate != 0 || a.RowsEstimate != 0 {
			if c.BytesEstimate == nil {
				c.BytesEstimate, c.RowsEstimate = make([]int64, n), make([]int64, n)
			}
			c.BytesEstimate[i], c.RowsEstimate[i] = a.BytesEstimate, a.RowsEstimate
		}
		if a.CopyFormat != "" {
			if c.CopyFormat == nil {
				c.CopyFormat = make([]string, n)
			}
			c.CopyFormat[i] = a.CopyFormat
		}
	}
	return c
}

// TestRunActionsStreamed: a run's actions are written one value at a time; the bytes are
// json.Marshal's of their columns, and a stored run (gzipped) reads back as it was.
func TestRunActionsStreamed(t *testing.T) {
	plain := RunActions{{Address: "database.app", Type: "database", Phase: "schema", Start: 1500 * time.Microsecond, End: 2 * time.Second, Outcome: ActionApplied}}
	est := RunActions{
		{Address: `database.app.table["public"."<t>&"]`, Type: "table", Phase: "copy", Lane: 1, Start: time.Second, End: 3 * time.Second, Bytes: 40, Rows: 1, Outcome: ActionApplied, BytesEstimate: 8192, RowsEstimate: 1, CopyFormat: "text"},
		{Address: "database.app.index[\"public\".\"é\u2028\"]", Type: "index", Phase: "indexes", Start: -time.Millisecond, Outcome: ActionFailed},
	}
	// copies: a copy's format is kept beside another copy's none (a table without columns).
	copies := RunActions{
		{Address: `database.app.table["public"."t"]`, Type: "table", Phase: "copy", Outcome: ActionApplied, CopyFormat: "binary"},
		{Address: `database.app.table["public"."empty"]`, Type: "table", Phase: "copy", Outcome: ActionApplied},
	}
	for _, as := range []RunActions{nil, {}, plain, est, copies} {
		want, err := json.Marshal(refColumns(as))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(as)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("actions\n got %s\nwant %s", got, want)
		}
		r := &Run{RunSummary: RunSummary{FormatVersion: 1, ID: 3, Migration: "m", Operation: "apply", Outcome: StatusSucceeded,
			Error: "a <b> & c", Forecast: &Forecast{ExpectedMS: 5, CriticalPath: []string{"x"}}}, Actions: as}
		data, err := encodeRun(r)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		var enc bytes.Buffer
		if err := json.NewEncoder(&enc).Encode(struct {
			RunSummary
			Actions runColumns `json:"actions"`
		}{r.RunSummary, refColumns(as)}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored, enc.Bytes()) {
			t.Errorf("stored run\n got %s\nwant %s", stored, enc.Bytes())
		}
		back, err := decodeRun("run", data)
		if err != nil {
			t.Fatal(err)
		}
		if len(back.Actions) != len(as) || back.Error != r.Error {
			t.Fatalf("read back %+v", back)
		}
		for i := range as {
			w := as[i]
			w.Start, w.End = w.Start.Truncate(time.Millisecond), w.End.Truncate(time.Millisecond)
			if back.Actions[i] != w {
				t.Errorf("action %d read back %+v, want %+v", i, back.Actions[i], w)
			}
		}
	}
}
