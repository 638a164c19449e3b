package apply

import (
	"runtime/debug"
	"testing"
)

func TestHeapLimit(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, heapFloor},
		{40 << 20, heapFloor},                 // small runs: the default collector, never reached
		{100 << 20, 100<<20 + 25<<20 + 8<<20}, // a quarter more than live, plus slack
		{1 << 30, 1<<30 + 1<<28 + 8<<20},      // never below what is live
	} {
		if got := heapLimit(c.live); got != c.want {
			t.Errorf("heapLimit(%d) = %d, want %d", c.live, got, c.want)
		}
		if got := heapLimit(c.live); uint64(got) <= c.live {
			t.Errorf("heapLimit(%d) = %d: not above the live heap", c.live, got)
		}
	}
}

func TestBoundHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	stop := BoundHeap()
	if got := debug.SetMemoryLimit(-1); got < heapFloor || got == 1<<63-1 {
		t.Errorf("limit %d while bounded", got)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != 1<<63-1 {
		t.Errorf("limit %d after stop", got)
	}
	t.Setenv("GOGC", "200")
	stop = BoundHeap()
	if got := debug.SetMemoryLimit(-1); got != 1<<63-1 {
		t.Errorf("limit %d with GOGC set", got)
	}
	stop()
}
