package state

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/crc32"
	"reflect"
	"testing"
	"time"
)

// TestRecordEncoding: a journal record is written piece by piece (pending.writeTo), never held
// encoded whole; its bytes are json.Marshal's, and the size and checksum diff measured are those of
// the bytes written.
func TestRecordEncoding(t *testing.T) {
	now := time.Date(2026, 12, 5, 17, 0, 0, 123456789, time.UTC)
	local := now.In(time.FixedZone("X", 3600))
	a := &Action{Address: `database.app.table["public"."t<1>&"]`, Kind: KindCreate, Database: "app", Status: ActionApplied,
		StartedAt: &now, FinishedAt: &local, DurationMS: 5, Rows: 1, Bytes: 40, Error: "quote \" and \u2028 é", Attempt: 2, Lane: 1}
	b := &Action{Address: "database.app", Status: ActionRunning}
	for _, rec := range []journalRecord{
		{Serial: 1},
		{Serial: 2, UpdatedAt: &now},
		{Serial: 3, UpdatedAt: &now, Head: json.RawMessage(`{"run":{"jobs":2},"format_version":1,"migration":"m<>"}`)},
		{Serial: 4, Actions: []*Action{a}},
		{Serial: 5, UpdatedAt: &local, Head: json.RawMessage(`{"format_version":1}`), Actions: []*Action{a, b, a}},
	} {
		want, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := rec.encode(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("serial %d:\n got %s\nwant %s", rec.Serial, got.Bytes(), want)
		}
		var z sizer
		if err := rec.encode(&z); err != nil {
			t.Fatal(err)
		}
		if z.n != int64(len(want)) || z.crc != crc32.Checksum(want, crcTable) {
			t.Errorf("serial %d: sized %d bytes, crc %08x; want %d, %08x", rec.Serial, z.n, z.crc, len(want), crc32.Checksum(want, crcTable))
		}
	}
}

// TestRunSumCoversEveryField: the head's run is recognised by runSum alone, so runSum must see
// every field of RunStart and of its Forecast.
func TestRunSumCoversEveryField(t *testing.T) {
	base := func() *RunStart { return &RunStart{Forecast: &Forecast{}} }
	set := func(f reflect.Value, name string) {
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Int64:
			f.SetInt(1)
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
		case reflect.Struct:
			if f.Type() != reflect.TypeFor[time.Time]() {
				t.Fatalf("field %s of type %s: teach runSum and this test", name, f.Type())
			}
			f.Set(reflect.ValueOf(time.Now()))
		case reflect.Pointer:
			if f.Type() != reflect.TypeFor[*Forecast]() {
				t.Fatalf("field %s of type %s: teach runSum and this test", name, f.Type())
			}
			f.Set(reflect.Zero(f.Type())) // the base has one: none differs
		default:
			t.Fatalf("field %s of kind %s: teach runSum and this test", name, f.Kind())
		}
	}
	for i := range reflect.TypeFor[RunStart]().NumField() {
		r := base()
		f := reflect.ValueOf(r).Elem().Field(i)
		set(f, "RunStart."+reflect.TypeFor[RunStart]().Field(i).Name)
		if runSum(r) == runSum(base()) {
			t.Errorf("runSum does not see RunStart.%s", reflect.TypeFor[RunStart]().Field(i).Name)
		}
	}
	for i := range reflect.TypeFor[Forecast]().NumField() {
		r := base()
		set(reflect.ValueOf(r.Forecast).Elem().Field(i), "Forecast."+reflect.TypeFor[Forecast]().Field(i).Name)
		if runSum(r) == runSum(base()) {
			t.Errorf("runSum does not see Forecast.%s", reflect.TypeFor[Forecast]().Field(i).Name)
		}
	}
	if runSum(nil) == runSum(base()) {
		t.Error("runSum does not tell no run from an empty one")
	}
	// An element changed in place, not only a length.
	r, q := base(), base()
	r.Forecast.CriticalPath, q.Forecast.CriticalPath = []string{"a", "b"}, []string{"a", "c"}
	r.Forecast.CriticalMS, q.Forecast.CriticalMS = []int64{1, 2}, []int64{1, 2}
	if runSum(r) == runSum(q) {
		t.Error("runSum does not see a critical path step changed")
	}
}

// TestLocalJournalRunChangedInPlace: a RunStart changed in place after it was written (its
// pointer unchanged) is journaled like any other change; the journal once recognised the run by
// its pointer and missed it until the next compaction.
func TestLocalJournalRunChangedInPlace(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := inProgress(3)
	now := time.Now().UTC().Truncate(time.Millisecond)
	s.Run = &RunStart{StartedAt: now, Jobs: 2, Forecast: &Forecast{ExpectedMS: 1000, CriticalPath: []string{"database.app"}, CriticalMS: []int64{1000}}}
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(ctx, s); err != nil { // the journal's first record: the run unchanged
		t.Fatal(err)
	}
	for _, change := range []func(){
		func() { s.Run.Jobs = 4 },
		func() { s.Run.StartedAt = now.Add(time.Second) },
		func() { s.Run.Forecast.ExpectedMS = 2000 },
		func() { s.Run.Forecast.CriticalMS[0] = 500 },
		func() { s.Run.Forecast.CriticalPath[0] = "database.app.schema" },
		func() { s.Run.Forecast = nil },
	} {
		before := journalSize(t, l, "m")
		change()
		if err := l.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
		if journalSize(t, l, "m") <= before {
			t.Fatal("the write was not journaled")
		}
		readBack(t, l, s)
	}
}
