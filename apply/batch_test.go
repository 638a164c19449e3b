package apply

import (
	"bytes"
	"errors"
	"testing"
)

// blocks records each Write it is given.
type blocks struct {
	all  bytes.Buffer
	max  int
	n    int
	fail error
}

func (b *blocks) Write(p []byte) (int, error) {
	if b.fail != nil {
		return 0, b.fail
	}
	b.n++
	b.max = max(b.max, len(p))
	return b.all.Write(p)
}

// TestBatchWriter: what is written comes out whole and in order, in blocks of at most copyBatch
// (a larger write on its own), and a copy of small rows grows the buffer only to what it holds:
// a tiny table's copy leaves a buffer of 4 KiB in the pool, not 1 MiB.
func TestBatchWriter(t *testing.T) {
	var want bytes.Buffer
	out := &blocks{}
	var b batchWriter
	b.Reset(out)
	row := bytes.Repeat([]byte("r"), 40)
	for range 3 {
		b.Write(row)
		want.Write(row)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if cap(b.buf) > 4<<10 || out.n != 1 {
		t.Errorf("3 rows of 40 bytes: buffer of %d bytes, %d writes; want 4096 at most, 1", cap(b.buf), out.n)
	}
	for i := range 100000 { // ~5 MB of rows of varying sizes, then one larger than a block
		r := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%97)
		b.Write(r)
		want.Write(r)
	}
	big := bytes.Repeat([]byte("B"), 3*copyBatch/2)
	b.Write(big)
	want.Write(big)
	b.Write(row)
	want.Write(row)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.all.Bytes(), want.Bytes()) {
		t.Fatal("the bytes written differ from those given")
	}
	if out.max != len(big) || cap(b.buf) > copyBatch {
		t.Errorf("largest block %d (want the large write's %d), buffer %d (want at most %d)", out.max, len(big), cap(b.buf), copyBatch)
	}
	if blocks := out.all.Len()/copyBatch + 4; out.n > blocks {
		t.Errorf("%d writes of %d bytes, want at most %d: rows not batched", out.n, out.all.Len(), blocks)
	}
	broken := errors.New("broken pipe")
	out.fail = broken
	b.Write(row)
	if err := b.Flush(); !errors.Is(err, broken) {
		t.Fatalf("Flush = %v, want %v", err, broken)
	}
	if _, err := b.Write(row); !errors.Is(err, broken) {
		t.Errorf("a write after a failed one = %v, want %v", err, broken)
	}
	b.Reset(&blocks{})
	if _, err := b.Write(row); err != nil || len(b.buf) != len(row) {
		t.Errorf("after Reset: %v, %d bytes buffered", err, len(b.buf))
	}
}
