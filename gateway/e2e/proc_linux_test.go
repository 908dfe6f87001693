package e2e

import (
	"os/exec"
	"runtime"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the child if the test binary
// dies without cleaning up (a panic, a -timeout), so no process outlives a
// crashed run.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// The kernel sends the parent-death signal when the thread that forked the
// child ends, not the process (go.dev/issue/27505), and the Go runtime may
// end threads. So every child is forked from one goroutine locked to its
// thread for the whole run.
type spawnCall struct {
	cmd *exec.Cmd
	err chan error
}

var spawns = make(chan spawnCall)

// startSpawner starts the goroutine that forks the children; stop ends it
// (and its thread) once every child is gone.
func startSpawner() (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		for c := range spawns {
			c.err <- c.cmd.Start()
		}
	}()
	return func() {
		close(spawns)
		<-done
	}
}

// startCmd starts cmd from the spawner's thread.
func startCmd(cmd *exec.Cmd) error {
	c := spawnCall{cmd: cmd, err: make(chan error, 1)}
	spawns <- c
	return <-c.err
}
