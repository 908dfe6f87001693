package netfault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

func checkOS() error { return nil }

// runIn runs fn on a locked OS thread moved into the network namespace at
// path, and moves the thread back afterwards. If moving back fails, the
// goroutine ends still locked, which makes the runtime destroy the thread
// rather than reuse it in the wrong namespace.
func runIn(path string, fn func() error) error {
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("netfault: %w", err)}
			return
		}
		defer func() { _ = self.Close() }()
		target, err := os.Open(path) //nolint:gosec // the path of a namespace this package created
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("netfault: %w", err)}
			return
		}
		defer func() { _ = target.Close() }()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("netfault: enter %s: %w", path, err)}
			return
		}
		var r result
		func() {
			defer func() { r.panic = recover() }()
			r.err = fn()
		}()
		if err := setns(self); err != nil {
			// Stay locked: the thread dies with this goroutine.
			r.err = fmt.Errorf("netfault: leave %s: %w", path, err)
			done <- r
			return
		}
		runtime.UnlockOSThread()
		done <- r
	}()
	r := <-done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// sysSetns is the number of the setns system call, which package syscall
// does not name, for each architecture Go supports on Linux.
var sysSetns = map[string]uintptr{
	"amd64": 308, "386": 346, "arm": 375, "arm64": 268, "riscv64": 268, "loong64": 268,
	"ppc64": 350, "ppc64le": 350, "s390x": 339, "mips": 4344, "mipsle": 4344,
	"mips64": 5303, "mips64le": 5303,
}

// setns moves the calling thread into the network namespace of f.
func setns(f *os.File) error {
	nr, ok := sysSetns[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: unknown system call number on %s", runtime.GOARCH)
	}
	_, _, errno := syscall.Syscall(nr, f.Fd(), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// processExists reports whether a process with this pid exists.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// killProcess sends SIGKILL to pid.
func killProcess(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

// enteringPIDs returns the processes that are still "ip netns exec ns …":
// started by Host.Command, they may not have entered the namespace yet, so
// "ip netns pids" does not list them. Once such a process has entered, it
// is listed there; so scanning for these first and for the namespace's
// members second misses none that had started.
func enteringPIDs(ns string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone, or not ours to read
		}
		if isEntering(cmdline, ns) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isEntering reports whether a NUL-separated command line is
// "<ip> netns exec ns …".
func isEntering(cmdline []byte, ns string) bool {
	args := strings.Split(string(cmdline), "\x00")
	return len(args) >= 4 && filepath.Base(args[0]) == "ip" && args[1] == "netns" && args[2] == "exec" && args[3] == ns
}
