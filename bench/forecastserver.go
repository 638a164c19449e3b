package main

// What the target server did during one of the forecast bench's applies, in measures the load of
// the machine does not distort: its processes' CPU time, the bytes they wrote, and the WAL segment
// files it created. A segment recycled at a checkpoint keeps its file (its inode) under a new name;
// a new one is first written full of zeros and synced (wal_init_zero), 16 MB each: an apply to a
// cluster that never held that much WAL pays for those writes, and a later apply does not.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverSnap is a server's counters at one moment (ok false: not readable here, e.g. not Linux).
type serverSnap struct {
	ok      bool
	cpu     time.Duration
	written int64
	faults  int64           // minor page faults (a first touch of memory: shared buffers, a new process's pages)
	wal     map[uint64]bool // the inodes of pg_wal's segment files
}

// ServerWork is what a server did between two snapshots.
type ServerWork struct {
	CPU         time.Duration
	Written     int64
	Faults      int64 // minor page faults of the server's processes
	NewSegments int   // WAL segment files created (not recycled)
	Segments    int   // WAL segment files at the end
}

func (w *ServerWork) String() string {
	if w == nil {
		return "—"
	}
	return fmt.Sprintf("CPU %.1f s, wrote %s, %dk page faults, %d new WAL segments (%d at the end)", w.CPU.Seconds(), bytesStr(w.Written), w.Faults/1000, w.NewSegments, w.Segments)
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// snapServer reads the counters of the server whose data directory is dataDir: the postmaster's
// and its live children's CPU time and written bytes (the postmaster's own counters hold its
// reaped children's: every connection that ended), and pg_wal's segment files.
func snapServer(dataDir string) serverSnap {
	s := serverSnap{wal: map[uint64]bool{}}
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return s
	}
	pm, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		return s
	}
	pids := []int{pm}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		if f := statFields(p); len(f) > 1 && f[1] == strconv.Itoa(pm) {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	for _, pid := range pids {
		f := statFields(fmt.Sprintf("/proc/%d/stat", pid))
		if len(f) < 15 {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			s.cpu += time.Duration(n) * clockTick
		}
		for _, i := range []int{7, 8} { // minflt, cminflt
			n, _ := strconv.ParseInt(f[i], 10, 64)
			s.faults += n
		}
		io, _ := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
		for _, l := range strings.Split(string(io), "\n") {
			if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				s.written += n
			}
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dataDir, "pg_wal", strings.Repeat("[0-9A-F]", 24)))
	for _, seg := range segs {
		if fi, err := os.Stat(seg); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				s.wal[st.Ino] = true
			}
		}
	}
	s.ok = true
	return s
}

// statFields are the fields of a /proc/PID/stat after the command's name (in parentheses, and it may
// hold spaces): state, ppid, … (nil when unreadable). treeRSS reads the same.
func statFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// since is what the server did from before to s (nil when either could not be read).
func (s serverSnap) since(before serverSnap) *ServerWork {
	if !s.ok || !before.ok {
		return nil
	}
	w := &ServerWork{CPU: s.cpu - before.cpu, Written: s.written - before.written, Faults: s.faults - before.faults, Segments: len(s.wal)}
	for ino := range s.wal {
		if !before.wal[ino] {
			w.NewSegments++
		}
	}
	return w
}
