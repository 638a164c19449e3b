package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/pgferry/pgferry/internal/every"
)

// profiled runs the command line args (run) under Go's profilers when asked to through the environment (for measuring pgferry
// itself; docs/reference.md lists them): PGFERRY_CPUPROFILE=FILE writes a CPU profile of the whole command,
// PGFERRY_MEMPROFILE=FILE a heap profile taken when the heap in use was largest (sampled every
// 250 ms; its allocation samples cover the whole run up to then), PGFERRY_TRACE=FILE a Go execution
// trace of the whole command (go tool trace), in which apply's steps before its run (state read,
// lock, catalog reads, schema dump, samples, forecast probe, plan) and the run are regions. A
// profile that cannot be written is reported on stderr and never changes the command's exit code.
func profiled(args []string) int {
	defer recordTo("PGFERRY_TRACE", "execution trace", trace.Start, trace.Stop)()
	defer recordTo("PGFERRY_CPUPROFILE", "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile)()
	if path := os.Getenv("PGFERRY_MEMPROFILE"); path != "" {
		stop := watchHeap(path)
		defer stop()
	}
	return run(args, os.Stdin, os.Stdout, os.Stderr)
}

// recordTo starts a recording of the whole command (start, stop: an execution trace or a CPU
// profile) into the file named by environment variable env, when it is set; what it returns ends
// it. A file that cannot be written is reported on stderr as what (the command goes on).
func recordTo(env, what string, start func(io.Writer) error, stop func()) (end func()) {
	path := os.Getenv(env)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		if err = start(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgferry: %s: %v\n", what, err)
		return func() {}
	}
	return func() {
		stop()
		f.Close()
	}
}

// watchHeap writes a heap profile to path each time the heap in use grows past its largest so far
// (at least by an eighth), so the file ends up describing the peak; stop takes a last look.
func watchHeap(path string) (stop func()) {
	var peak uint64
	look := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse < peak+peak/8 {
			return
		}
		peak = m.HeapInuse
		f, err := os.Create(path)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgferry: memory profile:", err)
		}
	}
	stopLooking := every.Do(250*time.Millisecond, look)
	return func() {
		stopLooking()
		look() // the last moments count too
	}
}
