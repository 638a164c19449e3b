package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNewerFormat is matched (errors.Is) by the error returned when a state was
// written by a newer pgferry than this one.
var ErrNewerFormat = errors.New("state was written by a newer pgferry; upgrade pgferry")

// upgradeFunc rewrites, in place, a state document of one format version into
// the next one. It works on the generic JSON form so that old versions need no
// Go types of their own; numbers are json.Number.
type upgradeFunc func(doc map[string]any) error

// upgrades maps a format version to the function that upgrades a document of
// that version to the next one. Reading a document of version v runs
// upgrades[v], upgrades[v+1], ... up to FormatVersion. Version 1 is the first
// released format, so the chain is empty; a change to the document that old
// readers would misread must bump FormatVersion and add the previous version's
// upgrade here (never edit a released one). Upgrades must be deterministic —
// the same document always upgrades to the same result, lineage included —
// because Write reads the stored state again to check its lineage.
var upgrades = map[int]upgradeFunc{}

// encodeState is the on-disk form: indented, ending with a newline.
func encodeState(s *State) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding state of migration %q: %w", s.Migration, err)
	}
	return append(b, '\n'), nil
}

// decodeState reads a state document of any known format version. what names
// the document in errors ("state file /x/state.json").
func decodeState(what string, data []byte) (*State, error) {
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %s", what, jsonErrorDetail(data, err))
	}
	version := 0 // documents from before versioning carry none
	if head.FormatVersion != nil {
		version = *head.FormatVersion
	}
	switch {
	case version > FormatVersion:
		return nil, fmt.Errorf("%s has format version %d but this pgferry reads up to version %d: %w",
			what, version, FormatVersion, ErrNewerFormat)
	case version < FormatVersion:
		var err error
		if data, err = upgradeDocument(what, data, version); err != nil {
			return nil, err
		}
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s is not a valid pgferry state: %s", what, jsonErrorDetail(data, err))
	}
	return &s, nil
}

// upgradeDocument runs the upgrade chain from version to FormatVersion.
func upgradeDocument(what string, data []byte, version int) ([]byte, error) {
	if version < 0 {
		return nil, fmt.Errorf("%s has an invalid format version %d", what, version)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s is not a valid pgferry state: %s", what, jsonErrorDetail(data, err))
	}
	for v := version; v < FormatVersion; v++ {
		up, ok := upgrades[v]
		if !ok {
			return nil, fmt.Errorf("%s has format version %d, which this pgferry cannot upgrade (it reads versions %d to %d)",
				what, version, lowestUpgradable(), FormatVersion)
		}
		if err := up(doc); err != nil {
			return nil, fmt.Errorf("upgrading %s from format version %d to %d: %w", what, v, v+1, err)
		}
		doc["format_version"] = v + 1
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s: %w", what, err)
	}
	return out, nil
}

func lowestUpgradable() int {
	v := FormatVersion
	for v > 0 {
		if _, ok := upgrades[v-1]; !ok {
			break
		}
		v--
	}
	return v
}

// jsonErrorDetail says where a JSON document is broken, as line:column.
func jsonErrorDetail(data []byte, err error) string {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "the file is empty"
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d: %v", line, col-1, err)
}
