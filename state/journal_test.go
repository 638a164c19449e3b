package state

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// readBack reads the migration's state as a new process would and compares it with want.
func readBack(t *testing.T, b Backend, want *State) *State {
	t.Helper()
	got, err := b.Read(context.Background(), want.Migration)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("no state read back")
	}
	if !sameState(got, want) {
		t.Fatalf("read back differs:\n got %s\nwant %s", dump(got), dump(want))
	}
	return got
}

// sameState compares two states as documents (times by instant).
func sameState(a, b *State) bool {
	x, err1 := encodeState(a.Clone())
	y, err2 := encodeState(b.Clone())
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func dump(s *State) string {
	b, _ := encodeState(s)
	return string(b)
}

func journalSize(t *testing.T, l *Local, migration string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(l.migrationDir(migration), journalFileName))
	if os.IsNotExist(err) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func inProgress(n int) *State {
	s := New("m")
	s.Status, s.Substatus = StatusInProgress, SubMigratingData
	s.Databases = []string{"app"}
	for i := range n {
		s.Upsert(&Action{Address: fmt.Sprintf(`database.app.table["public"."t%d"]`, i), Kind: KindCreate, Database: "app", Status: ActionPending, RowsEstimate: int64(i)})
	}
	return s
}

func TestLocalJournal(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := inProgress(5)
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	doc := mustRead(t, l.StatePath("m"))
	if journalSize(t, l, "m") != -1 {
		t.Fatal("the first write made a journal")
	}

	// Finishing actions appends to the journal: state.json is not rewritten.
	now := time.Now().UTC()
	a := s.Action(`database.app.table["public"."t1"]`)
	a.Status, a.StartedAt, a.FinishedAt, a.Rows, a.Lane = ActionApplied, &now, &now, 7, 1
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, l.StatePath("m")), doc) {
		t.Fatal("state.json was rewritten for one finished action")
	}
	if journalSize(t, l, "m") <= 0 {
		t.Fatal("no journal after a write while In progress")
	}
	if s.Serial != 2 {
		t.Fatalf("serial %d, want 2", s.Serial)
	}
	readBack(t, l, s)

	// New actions and a changed head (substatus, a change) are journaled too.
	s.Upsert(&Action{Address: "database.app.analyze", Kind: KindCreate, Database: "app", Status: ActionRunning, StartedAt: &now})
	s.Substatus = SubCompleting
	s.Created = append(s.Created, Change{Type: "database", Name: "app", Op: "created", At: now})
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	confirmed := s.Clone()
	readBack(t, l, s)
	if !bytes.Equal(mustRead(t, l.StatePath("m")), doc) {
		t.Fatal("state.json was rewritten")
	}

	// A record cut short (kill -9 in the middle of its write) is ignored: what was confirmed stays.
	s.Action("database.app.analyze").Status = ActionApplied
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(l.migrationDir("m"), journalFileName)
	if err := os.Truncate(jpath, journalSize(t, l, "m")-5); err != nil {
		t.Fatal(err)
	}
	readBack(t, l, confirmed)
	// A damaged record (its checksum does not match) ends the journal as well.
	j := mustRead(t, jpath)
	last := bytes.LastIndexByte(j[:len(j)-1], '\n')
	j[last+20] ^= 1
	os.WriteFile(jpath, j[:last+1+40], 0o600) // and the line cut short
	got := readBack(t, l, confirmed)
	if got.Serial != 3 {
		t.Fatalf("serial %d, want 3", got.Serial)
	}

	// The next process compacts: it reads what was confirmed and writes the whole document.
	writtenFiles.Clear()
	got.Action("database.app.analyze").Status = ActionApplied
	if err := l.Write(ctx, got); err != nil {
		t.Fatal(err)
	}
	if journalSize(t, l, "m") != -1 {
		t.Fatal("a write by another process left the journal")
	}
	if got.Serial != 4 {
		t.Fatalf("serial %d, want 4", got.Serial)
	}
	readBack(t, l, got)

	// Leaving In progress compacts.
	s = got
	s.Action(`database.app.table["public"."t2"]`).Status = ActionApplied
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if journalSize(t, l, "m") <= 0 {
		t.Fatal("no journal")
	}
	s.Status, s.Substatus = StatusSucceeded, SubCompleted
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if journalSize(t, l, "m") != -1 {
		t.Fatal("the journal is left after the state left In progress")
	}
	stored, err := decodeState("state.json", mustRead(t, l.StatePath("m")))
	if err != nil {
		t.Fatal(err)
	}
	if !sameState(stored, s) {
		t.Fatalf("state.json after compaction:\n%s\nwant\n%s", dump(stored), dump(s))
	}
	if names := dirNames(t, l.migrationDir("m")); !reflect.DeepEqual(names, []string{writeLockName, stateFileName, backupFileName}) {
		t.Fatalf("directory holds %v", names)
	}
}

// A journal left by a compaction that did not get to remove it (a crash after the rename) applies
// to the replaced document only: readers ignore it.
func TestLocalJournalStale(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := inProgress(3)
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Actions[0].Status = ActionApplied
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(l.migrationDir("m"), journalFileName)
	old := mustRead(t, jpath)
	s.Actions = s.Actions[:1] // removing actions cannot be journaled: a compaction
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if journalSize(t, l, "m") != -1 {
		t.Fatal("removing actions did not compact")
	}
	if err := os.WriteFile(jpath, old, 0o600); err != nil {
		t.Fatal(err)
	}
	readBack(t, l, s)
	// and the next write starts a new journal over it.
	s.Actions[0].Rows = 3
	writtenFiles.Clear()
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Actions[0].Rows = 4
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	readBack(t, l, s)
}

// The journal is compacted once it grows as large as the document (at least journalMinBytes), so
// the bytes written stay within about twice what changed.
func TestLocalJournalCompactsBySize(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := inProgress(50)
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	compactions, largest := 0, int64(0)
	for i := range 200 {
		s.Actions[i%50].Error = strings.Repeat("x", 4000) + fmt.Sprint(i)
		before := mustRead(t, l.StatePath("m"))
		if err := l.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, mustRead(t, l.StatePath("m"))) {
			compactions++
		}
		largest = max(largest, journalSize(t, l, "m"))
	}
	if compactions < 2 || compactions > 6 {
		t.Fatalf("%d compactions in 200 writes of 4 kB, want about 3", compactions)
	}
	if largest > journalMinBytes+1000 {
		t.Fatalf("journal grew to %d bytes", largest)
	}
	readBack(t, l, s)
}

func TestWriteDocumentIsEncodeState(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, s := range []*State{New("a"), inProgress(0), inProgress(3)} {
		if len(s.Actions) > 0 {
			s.Actions[1].StartedAt, s.Actions[1].Error = &now, `a "quoted" error`
		}
		s.Created = []Change{{Type: "role", Name: "r", Op: "created", At: now}}
		var b bytes.Buffer
		if err := writeDocument(&b, s); err != nil {
			t.Fatal(err)
		}
		want, _ := encodeState(s)
		if b.String() != string(want) {
			t.Fatalf("writeDocument:\n%s\nencodeState:\n%s", b.String(), want)
		}
	}
}

// actionSum must see every field of an Action but its Address (diff compares it with the stored
// one), or a change to it would never be journaled.
func TestActionSumCoversEveryField(t *testing.T) {
	now := time.Now()
	base := Action{}
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).Name == "Address" {
			continue
		}
		a := base
		f := reflect.ValueOf(&a).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Int64:
			f.SetInt(1)
		case reflect.Pointer:
			f.Set(reflect.ValueOf(&now))
		default:
			t.Fatalf("field %s of kind %s: teach actionSum and this test", v.Type().Field(i).Name, f.Kind())
		}
		if actionSum(&a) == actionSum(&base) {
			t.Errorf("actionSum does not see Action.%s", v.Type().Field(i).Name)
		}
	}
}

func TestPGJournal(t *testing.T) {
	dsn := startPG(t)
	ctx := context.Background()
	p, err := NewPG(ctx, dsn, "pgferry")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	other, err := NewPG(ctx, dsn, "pgferry") // another process
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	count := func(q string) (n int64) {
		t.Helper()
		if err := p.conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	s := inProgress(5)
	if err := p.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 3 {
		s.Actions[i].Status, s.Actions[i].FinishedAt = ActionApplied, &now
		if i == 2 {
			s.Substatus = SubCompleting
			s.Upsert(&Action{Address: "database.app.analyze", Status: ActionRunning})
		}
		if err := p.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(`SELECT count(*) FROM pgferry.journal WHERE migration = 'm'`); n != 3 {
		t.Fatalf("%d journal rows, want 3", n)
	}
	if n := count(`SELECT (data->>'serial')::bigint FROM pgferry.states WHERE migration = 'm'`); n != 1 {
		t.Fatalf("the document was rewritten (serial %d)", n)
	}
	if n := count(`SELECT serial FROM pgferry.states WHERE migration = 'm'`); n != 4 {
		t.Fatalf("states.serial %d, want 4", n)
	}
	readBack(t, p, s)
	readBack(t, other, s)
	list, err := other.List(ctx)
	if err != nil || len(list) != 1 || !sameState(list[0], s) {
		t.Fatalf("List = %v, %v", list, err)
	}

	// Another process's write compacts (it does not know what this one stored).
	got := readBack(t, other, s)
	got.Actions[3].Status = ActionApplied
	if err := other.Write(ctx, got); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM pgferry.journal`); n != 0 {
		t.Fatalf("%d journal rows after a compaction", n)
	}
	readBack(t, p, got)
	// and this one, finding a serial it did not write, compacts too.
	s.Actions[4].Status = ActionApplied
	if err := p.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM pgferry.journal`); n != 0 {
		t.Fatalf("%d journal rows after a write over another's", n)
	}
	readBack(t, other, s)

	// Leaving In progress compacts.
	s.Actions[0].Rows = 9
	if err := p.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM pgferry.journal`); n != 1 {
		t.Fatalf("%d journal rows, want 1", n)
	}
	s.Status = StatusSucceeded
	if err := p.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM pgferry.journal`); n != 0 {
		t.Fatalf("%d journal rows after leaving In progress", n)
	}
	var status string
	if err := p.conn.QueryRow(ctx, `SELECT data->>'status' FROM pgferry.states WHERE migration = 'm'`).Scan(&status); err != nil || status != string(StatusSucceeded) {
		t.Fatalf("stored status %q, %v", status, err)
	}
	readBack(t, other, s)
}

func BenchmarkActionSum(b *testing.B) {
	now := time.Now().UTC()
	a := &Action{Address: `database.app.index["public"."t19894_ref_idx"]`, Kind: KindCreate, Database: "app", Status: ActionApplied,
		StartedAt: &now, FinishedAt: &now, DurationMS: 12, Rows: 1, Bytes: 40, Attempt: 1, Lane: 1}
	for b.Loop() {
		actionSum(a)
	}
}

// TestLocalJournalRun: the run an apply records (State.Run, with its forecast) goes into the
// journal when it is set or replaced, and stays as it was through records that change the rest of
// the head; a new process reads it back each time.
func TestLocalJournalRun(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := inProgress(3)
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	s.Run = &RunStart{StartedAt: now, Jobs: 2, Forecast: &Forecast{ExpectedMS: 1000, CriticalPath: []string{"database.app", "database.app.schema"}}}
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	readBack(t, l, s)
	s.Substatus = SubCompleting // the rest of the head changes, not the run
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, l, s); got.Run == nil || got.Run.Forecast == nil || got.Run.Jobs != 2 {
		t.Fatalf("run read back %+v", got.Run)
	}
	s.Run = &RunStart{StartedAt: now.Add(time.Second), Jobs: 4} // a new apply's run
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	readBack(t, l, s)
	s.Run = nil
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	readBack(t, l, s)
	if journalSize(t, l, "m") <= 0 {
		t.Fatal("the writes were not journaled")
	}
}

// BenchmarkJournalWrite: a state write while In progress at tiny20000's size (62,000 actions), of
// which a few changed since the last write: what apply pays every flushEvery.
func BenchmarkJournalWrite(b *testing.B) {
	ctx := context.Background()
	l := &Local{Dir: b.TempDir()}
	s := inProgress(62000)
	now := time.Now().UTC()
	for _, a := range s.Actions {
		a.Status, a.StartedAt, a.FinishedAt, a.Attempt = ActionApplied, &now, &now, 1
	}
	if err := l.Write(ctx, s); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		for range 50 {
			a := s.Actions[i%len(s.Actions)]
			a.Rows++
			i++
		}
		if err := l.Write(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLocalJournalEveryFieldInPlace: a change to any one field of an action already stored,
// made in place through its pointer (as apply makes them), is journaled, and a new process reads
// it back; changing an action's address in place is a compaction.
func TestLocalJournalEveryFieldInPlace(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := inProgress(4)
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	doc := mustRead(t, l.StatePath("m"))
	later := time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond)
	a := s.Actions[2]
	v := reflect.ValueOf(a).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if name == "Address" {
			continue
		}
		before := journalSize(t, l, "m")
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Int, reflect.Int64:
			f.SetInt(f.Int() + 1)
		case reflect.Pointer:
			tm := later.Add(time.Duration(i) * time.Second)
			f.Set(reflect.ValueOf(&tm))
		default:
			t.Fatalf("field %s of kind %s: teach this test", name, f.Kind())
		}
		if err := l.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
		if journalSize(t, l, "m") <= before {
			t.Fatalf("changing Action.%s in place was not journaled", name)
		}
		readBack(t, l, s)
		// A time changed in place, behind the same pointer, too.
		if f.Kind() == reflect.Pointer {
			before = journalSize(t, l, "m")
			*f.Interface().(*time.Time) = later.Add(-time.Minute)
			if err := l.Write(ctx, s); err != nil {
				t.Fatal(err)
			}
			if journalSize(t, l, "m") <= before {
				t.Fatalf("changing the time Action.%s points to was not journaled", name)
			}
			readBack(t, l, s)
		}
	}
	if !bytes.Equal(mustRead(t, l.StatePath("m")), doc) {
		t.Fatal("state.json was rewritten")
	}
	// An unchanged state's write journals no action.
	before := journalSize(t, l, "m")
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	j := mustRead(t, filepath.Join(l.migrationDir("m"), journalFileName))
	if last := j[before:]; bytes.Contains(last, []byte(`"actions"`)) {
		t.Fatalf("an unchanged write journaled actions: %s", last)
	}
	s.Actions[1].Address += "x"
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if journalSize(t, l, "m") != -1 {
		t.Fatal("an address changed in place was journaled, not compacted")
	}
	readBack(t, l, s)
}
