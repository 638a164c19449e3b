package apply

import "io"

// copyBatch is the largest block batchWriter hands over at once.
const copyBatch = 1 << 20

// batchWriter batches small writes (a COPY's rows, one message each) into blocks of up to
// copyBatch bytes for w, as a bufio.Writer of that size does; but its buffer grows with what it
// is given, to copyBatch at most. pipeCopy's buffers are pooled between copies: a bufio.Writer
// held 1 MiB per connection from the first copy on, and a database of tiny tables never needs
// more than a few kilobytes (at 20,000 tables on 2 + 4 lanes, 6 MiB of the run's heap).
type batchWriter struct {
	w   io.Writer
	buf []byte
	err error // the first error w returned: later writes fail with it, as bufio.Writer's do
}

// Reset discards what is buffered and any error, and writes to w from now on.
func (b *batchWriter) Reset(w io.Writer) { b.w, b.buf, b.err = w, b.buf[:0], nil }

func (b *batchWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(b.buf)+len(p) > copyBatch {
		if err := b.Flush(); err != nil {
			return 0, err
		}
		if len(p) >= copyBatch { // a block of its own: not copied through the buffer
			n, err := b.w.Write(p)
			b.err = err
			return n, err
		}
	}
	if need := len(b.buf) + len(p); need > cap(b.buf) {
		grown := make([]byte, len(b.buf), min(copyBatch, max(2*cap(b.buf), need, 4<<10)))
		copy(grown, b.buf)
		b.buf = grown
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes what is buffered to w.
func (b *batchWriter) Flush() error {
	if b.err != nil || len(b.buf) == 0 {
		return b.err
	}
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return b.err
}
