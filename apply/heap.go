package apply

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/pgferry/pgferry/internal/every"
)

// Bounding the heap of large applies.
//
// What an apply holds lives for the whole run: the plan, the source catalog read in its snapshot
// (without its indexes and constraints unless the run verifies or carries statistics: runCatalog),
// pg_dump's scripts (each post-data chunk until its action ran), the state and the scheduler's
// graph. At 20,000 tables that is about 87 MB (100 MB before the catalog and scripts were trimmed),
// and Go's collector, left to its default (GOGC=100), lets the heap grow to twice what is live
// before it collects: the process's peak RSS was twice the data it needs. No structure was left to
// trim for the bound (150 MB at 20,000 tables) without a cost elsewhere, so the collector is
// told to keep the heap closer to what is live, and only for large runs: a soft memory limit of a
// quarter more than the live heap (plus some slack), never below heapFloor. Below about half the
// floor live, nothing changes; above, collections come more often (their CPU grows with how often,
// not with how big the heap is: measured in the report of the change). The limit follows the live
// heap, so it is never below it: the collector never runs back to back for lack of room.
// GOGC or GOMEMLIMIT set in the environment turn this off.
const (
	heapFloor = 96 << 20
	heapSlack = 8 << 20
)

// heapLimit is the soft memory limit for a live heap of live bytes.
func heapLimit(live uint64) int64 {
	return int64(max(heapFloor, live+live/4+heapSlack))
}

// BoundHeap keeps the Go heap near what is live (see above) until stop is called.
func BoundHeap() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(heapLimit(sample[0].Value.Uint64()))
		}
	}
	set()
	// The live heap is measured at the end of each collection: looked at often enough that the
	// limit follows it within a collection or two.
	stopSet := every.Do(100*time.Millisecond, set)
	return func() {
		stopSet()
		debug.SetMemoryLimit(math.MaxInt64)
	}
}
