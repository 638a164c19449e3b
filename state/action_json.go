package state

import (
	"encoding/json"
	"strconv"
	"time"
)

// appendAction appends a's JSON as json.Marshal writes it (indent "") or json.MarshalIndent(a,
// prefix, indent), byte for byte (TestAppendActionIsJSON): the state's document and its journal
// encode tens of thousands of actions, which encoding/json's reflection and its indenting pass
// made a tenth of an apply's CPU at 20,000 tables. Strings other than plain printable ASCII, and
// every time, are still encoded by encoding/json.
func appendAction(b []byte, a *Action, prefix, indent string) ([]byte, error) {
	if a == nil {
		return append(b, "null"...), nil
	}
	o := objectWriter{b: b, prefix: prefix, indent: indent}
	o.str("address", a.Address)
	o.str("kind", string(a.Kind))
	if a.Database != "" {
		o.str("database", a.Database)
	}
	o.str("status", string(a.Status))
	o.time("started_at", a.StartedAt)
	o.time("finished_at", a.FinishedAt)
	o.int("duration_ms", a.DurationMS)
	o.int("rows", a.Rows)
	o.int("bytes", a.Bytes)
	o.int("rows_estimate", a.RowsEstimate)
	o.int("bytes_estimate", a.BytesEstimate)
	if a.Error != "" {
		o.str("error", a.Error)
	}
	o.int("attempt", int64(a.Attempt))
	o.int("lane", int64(a.Lane))
	return o.end()
}

// objectWriter appends a JSON object's fields, compact or indented as json.MarshalIndent does.
type objectWriter struct {
	b              []byte
	prefix, indent string
	n              int
	err            error
}

func (o *objectWriter) key(k string) {
	if o.n == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.n++
	if o.indent != "" || o.prefix != "" {
		o.b = append(append(append(o.b, '\n'), o.prefix...), o.indent...)
	}
	o.b = append(append(append(o.b, '"'), k...), '"', ':')
	if o.indent != "" || o.prefix != "" {
		o.b = append(o.b, ' ')
	}
}

func (o *objectWriter) str(k, v string) {
	o.key(k)
	o.b = o.appendString(o.b, v)
}

// int writes a field with omitempty: nothing when v is 0.
func (o *objectWriter) int(k string, v int64) {
	if v != 0 {
		o.key(k)
		o.b = strconv.AppendInt(o.b, v, 10)
	}
}

// time writes a field with omitempty: nothing when t is nil.
func (o *objectWriter) time(k string, t *time.Time) {
	if t == nil {
		return
	}
	o.key(k)
	v, err := t.MarshalJSON()
	if err != nil {
		if _, err = json.Marshal(t); o.err == nil { // its error, as encoding/json words it
			o.err = err
		}
	}
	o.b = append(o.b, v...)
}

func (o *objectWriter) end() ([]byte, error) {
	if o.n == 0 {
		o.b = append(o.b, '{')
	} else if o.indent != "" || o.prefix != "" {
		o.b = append(append(o.b, '\n'), o.prefix...)
	}
	return append(o.b, '}'), o.err
}

// appendString appends s quoted as encoding/json quotes it: printable ASCII other than the
// characters it escapes is written as it is, anything else by encoding/json itself.
func (o *objectWriter) appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil && o.err == nil {
				o.err = err
			}
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}
