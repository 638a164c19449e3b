package state

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestAppendActionIsJSON: appendAction writes what encoding/json writes, compact and indented,
// for every field set and unset and for strings it escapes.
func TestAppendActionIsJSON(t *testing.T) {
	now := time.Date(2026, 12, 5, 20, 40, 1, 123456789, time.UTC)
	paris := now.In(time.FixedZone("CET", 3600))
	cases := []*Action{
		nil,
		{},
		{Address: `database.app.index["public"."t19894_ref_idx"]`, Kind: KindCreate, Database: "app", Status: ActionApplied,
			StartedAt: &now, FinishedAt: &paris, DurationMS: 12, Rows: 1, Bytes: 40, RowsEstimate: -1, BytesEstimate: 8192,
			Error: "boom", Attempt: 2, Lane: 1},
		{Address: "a<b>&c\"d\\e\u2028f\x01g\x7fé\xff", Kind: "-/+", Status: "weird", Error: "line\nnext\ttab"},
	}
	// Every field set alone.
	v := reflect.ValueOf(Action{})
	for i := range v.NumField() {
		a := &Action{}
		f := reflect.ValueOf(a).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Int64:
			f.SetInt(-7)
		case reflect.Pointer:
			f.Set(reflect.ValueOf(&now))
		default:
			t.Fatalf("field %s of kind %s: teach appendAction and this test", v.Type().Field(i).Name, f.Kind())
		}
		cases = append(cases, a)
	}
	for _, a := range cases {
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendAction(nil, a, "", "")
		if err != nil || string(got) != string(want) {
			t.Errorf("compact:\n got %s (%v)\nwant %s", got, err, want)
		}
		want, _ = json.MarshalIndent(a, "    ", "  ")
		got, err = appendAction([]byte("kept"), a, "    ", "  ")
		if err != nil || string(got) != "kept"+string(want) {
			t.Errorf("indented:\n got %s (%v)\nwant kept%s", got, err, want)
		}
	}
	bad := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := appendAction(nil, &Action{StartedAt: &bad}, "", ""); err == nil {
		t.Error("a time past year 9999 encoded")
	}
}
