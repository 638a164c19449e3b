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
	// column writes "key":[...] of each action's value, written by value (first: no comma before).
	column := func(key string, first bool, value func(a *RunAction)) {
		if !first {
			e.raw([]byte{','})
		}
		e.raw([]byte(`"` + key + `":[`))
		for i := range as {
			if i > 0 {
				e.raw([]byte{','})
			}
			value(&as[i])
		}
		e.raw([]byte{']'})
	}
	ints := func(key string, first bool, v func(a *RunAction) int64) {
		column(key, first, func(a *RunAction) {
			num = strconv.AppendInt(num[:0], v(a), 10)
			e.raw(num)
		})
	}
	strs := func(key string, first bool, v func(a *RunAction) string) {
		column(key, first, func(a *RunAction) { e.value(v(a)) })
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
	for i := range as {
		if as[i].CopyFormat != "" { // omitted when no action copied, as MarshalJSON leaves it nil
			strs("copy_format", false, func(a *RunAction) string { return a.CopyFormat })
			break
		}
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
