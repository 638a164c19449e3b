package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestTreeRSS: the resident set summed over a process tree counts the process and its children:
// with a child running, the tree's sum holds the child's besides this process's own.
func TestTreeRSS(t *testing.T) {
	child := exec.Command("sleep", "10")
	if err := child.Start(); err != nil {
		t.Skip("no sleep to run:", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	own, _ := pssOf(os.Getpid())
	self, alone := treeRSS(os.Getpid()), treeRSS(child.Process.Pid)
	if alone <= 0 || self-own < alone/2 {
		t.Errorf("tree %d bytes, this process %d, its child %d: want the child counted in the tree", self, own, alone)
	}
}
