package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Measurement is what one timed command cost.
type Measurement struct {
	Wall time.Duration
	// MaxRSS is the largest resident set of any single process of the tree
	// (the tool's and its reaped descendants' ru_maxrss, as /usr/bin/time
	// reports it), in bytes.
	MaxRSS int64
	// TreeRSS is the largest sum of the proportional set sizes (Pss: shared
	// pages divided among their sharers) of all processes of the tree, seen by
	// sampling /proc every 100 ms, in bytes.
	TreeRSS int64
	// CPU is the user and system time of the tool and its reaped descendants (wait4's rusage).
	CPU time.Duration
}

// timed runs cmd to completion, its output going to logPath, and measures
// its wall time and memory. A non-zero exit is an error that carries the log's
// tail.
func timed(ctx context.Context, cmd *exec.Cmd, logPath string) (Measurement, error) {
	var m Measurement
	logf, err := os.Create(logPath)
	if err != nil {
		return m, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", redact(strings.Join(cmd.Args, " ")))
	if cmd.Stdout == nil {
		cmd.Stdout = logf
	}
	if cmd.Stderr == nil {
		cmd.Stderr = logf
	}
	// ru_maxrss of a child forked from this (Go) process starts at this
	// process's own resident set: let GNU time, a small C program, fork the
	// tool and report its peak instead.
	var rssFile string
	if gnuTime != "" {
		f, err := os.CreateTemp("", "bench-rss-")
		if err != nil {
			return m, err
		}
		rssFile = f.Name()
		f.Close()
		defer os.Remove(rssFile)
		inner := cmd
		cmd = exec.Command(gnuTime, append([]string{"-q", "-f", "%M", "-o", rssFile, inner.Path}, inner.Args[1:]...)...)
		cmd.Env, cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = inner.Env, inner.Dir, inner.Stdin, inner.Stdout, inner.Stderr
	}
	// Own process group so that a cancelled run can be killed as a whole.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := treeRSS(cmd.Process.Pid); rss > m.TreeRSS {
				m.TreeRSS = rss
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	werr := cmd.Wait()
	m.Wall = time.Since(start)
	m.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	close(done)
	close(stop)
	wg.Wait()
	if rssFile != "" {
		b, _ := os.ReadFile(rssFile)
		// The last line is %M; GNU time prints "Command exited with non-zero status" before it.
		f := strings.Fields(string(b))
		if len(f) > 0 {
			kb, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			m.MaxRSS = kb * 1024
		}
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux; includes this process's at fork
	}
	if werr != nil {
		logf.Sync()
		return m, fmt.Errorf("%s: %w\n--- last lines of %s:\n%s", filepath.Base(cmd.Path), werr, logPath, tailFile(logPath, 25))
	}
	return m, nil
}

var pageSize = int64(os.Getpagesize())

// gnuTime is /usr/bin/time when installed (scripts/bench.sh installs it).
var gnuTime = func() string {
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		return "/usr/bin/time"
	}
	return ""
}()

// treeRSS sums the resident sets of pid and all its descendants.
func treeRSS(root int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	rss := map[int]int64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields("/proc/" + e.Name() + "/stat")
		// state ppid pgrp ... rss is field 24 of the whole line, index 21 here.
		if len(f) < 22 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pages, _ := strconv.ParseInt(f[21], 10, 64)
		children[ppid] = append(children[ppid], pid)
		rss[pid] = pages * pageSize
	}
	// Resident sets of forked processes share pages: sum the proportional
	// set sizes (Pss) where the kernel gives them, the RSS otherwise.
	var sum int64
	stack := []int{root}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if pss, ok := pssOf(p); ok {
			sum += pss
		} else {
			sum += rss[p]
		}
		stack = append(stack, children[p]...)
	}
	return sum
}

func pssOf(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Pss:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024, err == nil
			}
		}
	}
	return 0, false
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return redact(strings.Join(lines, "\n"))
}

// secrets are replaced by *** in what the bench prints.
var secrets []string

func redact(s string) string {
	for _, p := range secrets {
		if p != "" {
			s = strings.ReplaceAll(s, p, "***")
		}
	}
	return s
}
