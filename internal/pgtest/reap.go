package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ownerFile in a test cluster's directory holds the pid of the test process
// that owns it. A test binary killed by a timeout or kill -9 cannot run its
// cleanups; the next test process finds the orphans through this file and
// stops them, so a CI machine does not fill up with servers.
const ownerFile = "owner.pid"

// testDirPatterns are the os.MkdirTemp patterns of test-owned clusters.
var testDirPatterns = []string{"pgferry-test-", "pgferry-ts-"}

var reapOnce sync.Once

// claim marks dir as owned by this process and, once per process, reaps
// clusters whose owning process is gone.
func claim(dir string) error {
	reapOnce.Do(reapOrphans)
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func reapOrphans() {
	for _, p := range testDirPatterns {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), p+"*"))
		for _, dir := range dirs {
			b, err := os.ReadFile(filepath.Join(dir, ownerFile))
			if err != nil {
				continue // not claimed (yet): maybe being created right now
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 || processAlive(pid) {
				continue
			}
			if c, err := Load(dir); err == nil {
				c.StopImmediate()
			}
			os.RemoveAll(dir)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
