package pgdump

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the tool when pgferry dies (even by kill -9), so that an
// orphaned pg_restore can never go on changing the target behind a resumed apply.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
