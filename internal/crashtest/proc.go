package crashtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keelhq/keel/keeltest"
)

// readyPrefix starts the line a server process prints once it listens.
const readyPrefix = "listening on "

// Serve is the main loop of a server process: it listens on 127.0.0.1 at a
// port the kernel picks, prints "listening on ADDR" on stdout, and serves h
// until the process is killed. It exits the process when stdin reaches end
// of file, so a server outlives neither a parent that closes its end nor one
// that dies. It returns only on error.
func Serve(h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	if _, err := fmt.Fprintf(os.Stdout, "%s%s\n", readyPrefix, ln.Addr()); err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// Proc is a server process started by [Start].
type Proc struct {
	// Addr is the host:port the process listens on.
	Addr string

	cmd    *exec.Cmd
	stdin  io.Closer
	out    *lineWriter
	stderr *keeltest.Buffer
	exited chan struct{}
	err    error // of cmd.Wait, once exited is closed
}

// Start starts cmd, waits up to timeout for it to print its address, and
// registers a cleanup with t that kills it and waits for it. cmd's Stdin,
// Stdout and Stderr must be unset.
func Start(t testing.TB, cmd *exec.Cmd, timeout time.Duration) *Proc {
	t.Helper()
	p := &Proc{cmd: cmd, out: &lineWriter{ready: make(chan string, 1)}, stderr: &keeltest.Buffer{}, exited: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("crashtest: stdin pipe: %v", err)
	}
	p.stdin = stdin
	cmd.Stdout = p.out
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("crashtest: start %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { _ = p.Kill() })
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case addr := <-p.out.ready:
		p.Addr = addr
		return p
	case <-p.exited:
		t.Fatalf("crashtest: server exited before listening: %v\nstderr:\n%s", p.err, p.stderr.String())
	case <-timer.C:
		_ = p.Kill()
		t.Fatalf("crashtest: server did not print its address within %v\nstderr:\n%s", timeout, p.stderr.String())
	}
	return nil
}

// Kill sends SIGKILL to the process (unless it has exited) and waits for it.
// It is safe to call more than once. It reports an error only if the process
// exited by itself, with a failure, before it was killed.
func (p *Proc) Kill() error {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		_ = p.stdin.Close()
		return nil
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return nil
		}
	}
	return p.err
}

// Stderr returns what the process wrote to stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// lineWriter passes the address from the first "listening on" line to
// ready and discards the rest.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	done  bool
	ready chan string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(b), nil
	}
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if addr, ok := strings.CutPrefix(line, readyPrefix); ok {
			w.done = true
			w.buf = nil
			w.ready <- addr
			return len(b), nil
		}
	}
}
