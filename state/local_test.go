package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

func newLocal(t *testing.T) *Local {
	t.Helper()
	l, err := NewLocal(filepath.Join(t.TempDir(), ".pgferry"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestLocalReadMissing(t *testing.T) {
	l := newLocal(t)
	s, err := l.Read(context.Background(), "nothing")
	if s != nil || err != nil {
		t.Fatalf("Read of a missing state = %v, %v; want nil, nil", s, err)
	}
	if got := mode(t, l.Dir); got != 0o700 {
		t.Fatalf("state directory mode %v, want 0700", got)
	}
	if _, err := l.Read(context.Background(), "../etc"); err == nil {
		t.Fatal("Read accepted a path as a migration name")
	}
}

func TestLocalWriteRead(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := New("prod-to-flex")
	s.Status = StatusInProgress
	s.Upsert(&Action{Address: "role.app", Status: ActionApplied, Rows: 3})
	lineage := s.Lineage

	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 1 || s.Lineage != lineage || s.FormatVersion != FormatVersion || s.UpdatedAt == nil {
		t.Fatalf("after first Write: serial %d lineage %s version %d updated %v", s.Serial, s.Lineage, s.FormatVersion, s.UpdatedAt)
	}
	got, err := l.Read(ctx, "prod-to-flex")
	if err != nil {
		t.Fatal(err)
	}
	if !got.UpdatedAt.Equal(*s.UpdatedAt) {
		t.Fatalf("updated_at %v, want %v", got.UpdatedAt, s.UpdatedAt)
	}
	got.UpdatedAt = s.UpdatedAt // monotonic clock readings differ
	// Clone drops the lookup index, which is no part of the state.
	if !reflect.DeepEqual(got, s.Clone()) {
		t.Fatalf("read back differs:\n got %+v\nwant %+v", got, s)
	}

	dir := filepath.Join(l.Dir, "prod-to-flex")
	if m := mode(t, l.StatePath("prod-to-flex")); m != 0o600 {
		t.Fatalf("state file mode %v, want 0600", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("migration directory mode %v, want 0700", m)
	}

	s.Status = StatusSucceeded
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 2 {
		t.Fatalf("serial %d after second write, want 2", s.Serial)
	}
	backup, err := os.ReadFile(filepath.Join(dir, backupFileName))
	if err != nil {
		t.Fatal(err)
	}
	prev, err := decodeState("backup", backup)
	if err != nil {
		t.Fatal(err)
	}
	if prev.Serial != 1 || prev.Status != StatusInProgress {
		t.Fatalf("backup holds serial %d status %q, want the first write", prev.Serial, prev.Status)
	}
	if m := mode(t, filepath.Join(dir, backupFileName)); m != 0o600 {
		t.Fatalf("backup mode %v, want 0600", m)
	}
	// Atomicity leaves nothing behind but the state, its backup and the
	// writers' lock file.
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{writeLockName, stateFileName, backupFileName}) {
		t.Fatalf("directory holds %v", names)
	}

	// A writer holding an older copy still moves the serial forward.
	stale := s.Clone()
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	stale.Serial = 1
	if err := l.Write(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if stale.Serial != 4 {
		t.Fatalf("stale writer got serial %d, want 4", stale.Serial)
	}

	// The JSON carries the documented header fields.
	var doc map[string]any
	raw, _ := os.ReadFile(l.StatePath("prod-to-flex"))
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "lineage", "serial", "migration", "actions", "changes"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("state JSON lacks %q", k)
		}
	}
}

func TestLocalWriteAssignsLineage(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := &State{Migration: "m"}
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Lineage == "" || s.Serial != 1 {
		t.Fatalf("lineage %q serial %d", s.Lineage, s.Serial)
	}
	// A fresh state (another lineage, or none) must not replace it.
	for _, other := range []*State{New("m"), {Migration: "m"}} {
		err := l.Write(ctx, other)
		if err == nil || !strings.Contains(err.Error(), "lineage") {
			t.Fatalf("writing another history: %v", err)
		}
		if other.Serial != 0 {
			t.Fatalf("failed Write changed the serial to %d", other.Serial)
		}
	}
	got, err := l.Read(ctx, "m")
	if err != nil || got.Lineage != s.Lineage {
		t.Fatalf("stored state changed: %v %v", got, err)
	}
}

func TestLocalConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	base := New("m")
	if err := l.Write(ctx, base); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	serials := make([]int64, 20)
	for i := range serials {
		wg.Go(func() {
			s := base.Clone()
			if err := l.Write(ctx, s); err != nil {
				t.Error(err)
			}
			serials[i] = s.Serial
		})
	}
	wg.Wait()
	slices.Sort(serials)
	for i, v := range serials {
		if v != int64(i+2) {
			t.Fatalf("serials %v are not 2..21: concurrent writers were not ordered", serials)
		}
	}
	if names := dirNames(t, filepath.Join(l.Dir, "m")); len(names) != 3 {
		t.Fatalf("temporary files left: %v", names)
	}
}

func TestLocalList(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if got, err := l.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List of empty dir = %v, %v", got, err)
	}
	for _, m := range []string{"b", "a", "c"} {
		if err := l.Write(ctx, New(m)); err != nil {
			t.Fatal(err)
		}
	}
	// A migration that was only locked has a directory but no state.
	unlock, err := l.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	os.WriteFile(filepath.Join(l.Dir, "stray-file"), []byte("x"), 0o600)
	got, err := l.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Migration)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Fatalf("List = %v", names)
	}
}

func writeRaw(t *testing.T, l *Local, migration, data string) string {
	t.Helper()
	dir := filepath.Join(l.Dir, migration)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, stateFileName)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocalNewerFormatRefused(t *testing.T) {
	l := newLocal(t)
	path := writeRaw(t, l, "m", fmt.Sprintf(`{"format_version": %d, "migration": "m", "serial": 9}`, FormatVersion+1))
	_, err := l.Read(context.Background(), "m")
	if err == nil || !errors.Is(err, ErrNewerFormat) ||
		!strings.Contains(err.Error(), "state was written by a newer pgferry; upgrade pgferry") ||
		!strings.Contains(err.Error(), path) {
		t.Fatalf("Read of a newer state: %v", err)
	}
	if err := l.Write(context.Background(), New("m")); err == nil || !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("Write over a newer state: %v", err)
	}
}

func TestLocalCorruptFile(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := New("m")
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	path := writeRaw(t, l, "m", "{\n  \"format_version\": 1,\n  \"serial\": 3,,\n}")
	_, err := l.Read(ctx, "m")
	if err == nil {
		t.Fatal("Read of a corrupt file succeeded")
	}
	for _, want := range []string{path, "not valid JSON", "line 3", path + ".backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Writing over it would rotate the broken file into the backup and lose
	// the last good copy: refused.
	if err := l.Write(ctx, s); err == nil {
		t.Fatal("Write over a corrupt state succeeded")
	}
	if _, err := decodeState("backup", mustRead(t, path+".backup")); err != nil {
		t.Fatalf("backup was damaged: %v", err)
	}

	writeRaw(t, l, "empty", "")
	if _, err := l.Read(ctx, "empty"); err == nil || !strings.Contains(err.Error(), "empty") ||
		!strings.Contains(err.Error(), "no backup") {
		t.Fatalf("Read of an empty file: %v", err)
	}
	writeRaw(t, l, "other", `{"format_version": 1, "migration": "not-other"}`)
	if _, err := l.Read(ctx, "other"); err == nil || !strings.Contains(err.Error(), "not-other") {
		t.Fatalf("Read of another migration's state: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUpgradeChain installs a synthetic version 0 (no lineage, actions as a
// map keyed by address) and checks that Read brings it to FormatVersion.
func TestUpgradeChain(t *testing.T) {
	if FormatVersion != 1 {
		t.Skip("synthetic upgrade written for FormatVersion 1")
	}
	upgrades[0] = func(doc map[string]any) error {
		if _, ok := doc["lineage"]; !ok {
			// Deterministic, as upgrades must be: every Read of the old
			// document must yield the same lineage.
			name, _ := doc["migration"].(string)
			doc["lineage"] = uuid.NewSHA1(uuid.NameSpaceURL, []byte("pgferry:"+name)).String()
		}
		m, _ := doc["actions"].(map[string]any)
		addrs := make([]string, 0, len(m))
		for a := range m {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		list := []any{}
		for _, a := range addrs {
			act, ok := m[a].(map[string]any)
			if !ok {
				return fmt.Errorf("action %q is not an object", a)
			}
			act["address"] = a
			list = append(list, act)
		}
		doc["actions"] = list
		return nil
	}
	t.Cleanup(func() { delete(upgrades, 0) })

	ctx := context.Background()
	l := newLocal(t)
	writeRaw(t, l, "old", `{"migration": "old", "serial": 12345678901234,
		"actions": {"role.b": {"status": "applied"}, "role.a": {"status": "pending", "rows": 7}}}`)
	s, err := l.Read(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if s.FormatVersion != FormatVersion || len(s.Lineage) != 36 || s.Serial != 12345678901234 {
		t.Fatalf("upgraded header: version %d lineage %q serial %d", s.FormatVersion, s.Lineage, s.Serial)
	}
	if len(s.Actions) != 2 || s.Actions[0].Address != "role.a" || s.Actions[0].Rows != 7 ||
		s.Action("role.b").Status != ActionApplied {
		t.Fatalf("upgraded actions: %+v", s.Actions)
	}
	// The upgraded state is written in the current format, the old one kept.
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 12345678901235 {
		t.Fatalf("serial after write %d", s.Serial)
	}
	if !strings.Contains(string(mustRead(t, filepath.Join(l.Dir, "old", backupFileName))), `"role.b": {`) {
		t.Fatal("backup is not the version 0 document")
	}

	// A failing upgrade names the versions.
	writeRaw(t, l, "bad", `{"format_version": 0, "migration": "bad", "actions": {"x": 1}}`)
	if _, err := l.Read(ctx, "bad"); err == nil || !strings.Contains(err.Error(), "from format version 0 to 1") {
		t.Fatalf("failing upgrade: %v", err)
	}

	// Without an upgrade for a version, Read says so.
	delete(upgrades, 0)
	if _, err := l.Read(ctx, "old"); err != nil {
		t.Fatalf("current-format state unreadable: %v", err)
	}
	writeRaw(t, l, "old", `{"migration": "old"}`)
	if _, err := l.Read(ctx, "old"); err == nil || !strings.Contains(err.Error(), "cannot upgrade") {
		t.Fatalf("unknown old version: %v", err)
	}
}
