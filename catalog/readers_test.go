package catalog

import (
	"reflect"
	"testing"
)

// TestReaderRoles checks what ReadDatabaseParallel relies on in the readers' table: the readers it
// reads in parts itself are exactly those of the tables, indexes and constraints (readParallel's
// own tasks), and those it runs after all the others come, in the serial order too, after every
// reader whose results they need. The roles are typed: renaming a reader changes neither.
func TestReaderRoles(t *testing.T) {
	fn := func(f any) uintptr { return reflect.ValueOf(f).Pointer() }
	want := map[uintptr]bool{fn(readTables): true, fn(readIndexes): true, fn(readConstraints): true}
	lastInParts, firstAfter := -1, len(databaseReaders)
	for i, r := range databaseReaders {
		inParts := r.parallel == inParts
		if inParts != want[fn(r.read)] {
			t.Errorf("reader %q (%d): read in parts %v, want %v", r.what, i, inParts, want[fn(r.read)])
		}
		if inParts {
			lastInParts = i
			delete(want, fn(r.read))
		}
		if r.parallel == afterAll {
			firstAfter = min(firstAfter, i)
		}
	}
	if len(want) > 0 {
		t.Errorf("%d of readParallel's own readers are missing from databaseReaders", len(want))
	}
	if firstAfter <= lastInParts {
		t.Errorf("reader %q runs after all the others in parallel, but before %q serially",
			databaseReaders[firstAfter].what, databaseReaders[lastInParts].what)
	}
	if firstAfter == len(databaseReaders) {
		t.Error("no reader runs after the others: the collations need the tables' and indexes'")
	}
}
