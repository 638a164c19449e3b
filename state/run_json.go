package state

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strconv"
)

// A run's actions are written as columns one value at a time (writeJSON), never gathered into
// runColumns and encoded whole: at tens of thousands of actions that was the column copies and the
// JSON held twice over (json.Marshal's buffer and its copy, then the encoder's compacted copy) at
// the end of an apply, beside everything else it holds.

// writeJSON writes the bytes json.Marshal of the actions' runColumns returns.
func (as RunActions) writeJSON(w io.Writer) error {
	e := recordEncoder{w: w}
	e.enc = json.NewEncoder(&e.buf) // escapes as json.Marshal does
	var num []byte
	ints := func(key string, first bool, v func(a *RunAction) int64) {
		if !first {
			e.raw([]byte{','})
		}
		e.raw([]byte(`"` + key + `":[`))
		for i := range as {
			if i > 0 {
				e.raw([]byte{','})
			}
			num = strconv.AppendInt(num[:0], v(&as[i]), 10)
			e.raw(num)
		}
		e.raw([]byte{']'})
	}
	strs := func(key string, first bool, v func(a *RunAction) string) {
		if !first {
			e.raw([]byte{','})
		}
		e.raw([]byte(`"` + key + `":[`))
		for i := range as {
			if i > 0 {
				e.raw([]byte{','})
			}
			e.value(v(&as[i]))
		}
		e.raw([]byte{']'})
	}
	e.raw([]byte{'{'})
	strs("address", true, func(a *RunAction) string { return a.Address })
	strs("type", false, func(a *RunAction) string { return a.Type })
	strs("phase", false, func(a *RunAction) string { return a.Phase })
	ints("lane", false, func(a *RunAction) int64 { return int64(a.Lane) })
	ints("start_ms", false, func(a *RunAction) int64 { return a.Start.Milliseconds() })
	ints("end_ms", false, func(a *RunAction) int64 { return a.End.Milliseconds() })
	ints("bytes", false, func(a *RunAction) int64 { return a.Bytes })
	ints("rows", false, func(a *RunAction) int64 { return a.Rows })
	strs("outcome", false, func(a *RunAction) string { return string(a.Outcome) })
	estimated := false
	for i := range as {
		if as[i].BytesEstimate != 0 || as[i].RowsEstimate != 0 {
			estimated = true
			break
		}
	}
	if estimated { // omitted when no action has one, as MarshalJSON leaves them nil
		ints("bytes_estimate", false, func(a *RunAction) int64 { return a.BytesEstimate })
		ints("rows_estimate", false, func(a *RunAction) int64 { return a.RowsEstimate })
	}
	e.raw([]byte{'}'})
	return e.err
}

// writeRunJSON writes what a json.Encoder writes of r: its summary's fields, then its actions.
func writeRunJSON(w io.Writer, r *Run) error {
	summary, err := json.Marshal(&r.RunSummary)
	if err != nil {
		return err
	}
	// summary is an object with fields ({"format_version":...}): the actions go in as its last.
	if _, err := w.Write(append(summary[:len(summary)-1], `,"actions":`...)); err != nil {
		return err
	}
	if err := r.Actions.writeJSON(w); err != nil {
		return err
	}
	_, err = io.WriteString(w, "}\n")
	return err
}

// gzipWritten is what write writes, gzipped.
func gzipWritten(write func(io.Writer) error) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if err := write(zw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
