package every

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestDo: f runs repeatedly until stop, and never after stop returned.
func TestDo(t *testing.T) {
	var n atomic.Int64
	stop := Do(time.Millisecond, func() { n.Add(1) })
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	got := n.Load()
	if got < 3 {
		t.Fatalf("f ran %d times in 5 s at a 1 ms period, want at least 3", got)
	}
	time.Sleep(20 * time.Millisecond)
	if after := n.Load(); after != got {
		t.Errorf("f ran %d more times after stop returned", after-got)
	}
}
