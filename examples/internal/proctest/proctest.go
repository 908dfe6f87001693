package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keelhq/keel/keeltest"
)

// Command is the command under test: the main package in the directory the
// tests run in. A test package declares one and runs its tests through
// [Command.Main]:
//
//	var command = proctest.Command{Name: "payments"}
//
//	func TestMain(m *testing.M) { os.Exit(command.Main(m)) }
//
// The zero value is not usable: Name is required. A Command is safe for
// concurrent use once Main has built it.
type Command struct {
	// Name names the built binary and the command in failure messages.
	Name string

	binary string // the path Main built the command at
}

// Main builds the command into a temporary directory (with -race when the
// tests run with the race detector), runs the tests, and after a passing
// run checks that no goroutine leaked. It returns the exit code for
// os.Exit and removes the binary.
func (c *Command) Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", c.Name+"-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	c.binary = filepath.Join(dir, c.Name)
	args := []string{"build", "-o", c.binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", append(args, ".")...) //nolint:gosec // builds the package under test into a path Main chose
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the %s command: %v\n", c.Name, err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// Output runs the command with args to completion (for at most 30s) and
// returns its combined output and Wait's error.
func (c *Command) Output(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.binary, args...).CombinedOutput() //nolint:gosec // the binary Main built
	return string(out), err
}

// Start runs the command with args and waits up to 30s for the first line
// of its standard output, which must be "listening <host:port>". It
// registers a cleanup with t that kills the process, waits for it, and logs
// its standard error if t failed.
func (c *Command) Start(t *testing.T, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(c.binary, args...) //nolint:gosec // the binary Main built
	first := newFirstLine()
	p := &Proc{
		t: t, name: c.Name, cmd: cmd, stderr: &keeltest.Buffer{}, done: make(chan struct{}),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	}
	cmd.Stdout, cmd.Stderr = first, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.client.CloseIdleConnections()
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", c.Name, p.stderr)
		}
	})
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case line := <-first.line:
		addr, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			t.Fatalf("first stdout line = %q, want \"listening <addr>\"", line)
		}
		p.Addr = addr
	case <-p.done:
		t.Fatalf("%s exited before listening: %v\n%s", c.Name, p.err, p.stderr)
	case <-timer.C:
		t.Fatalf("%s did not print its address within 30s\n%s", c.Name, p.stderr)
	}
	return p
}

// Proc is a running process started by [Command.Start]. Its methods fail
// the test that started it; they must be called from that test's
// goroutine, except Do.
type Proc struct {
	// Addr is the host:port the process listens on.
	Addr string

	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stderr *keeltest.Buffer
	done   chan struct{} // closed when Wait returned
	err    error         // Wait's result, set before done is closed
	client *http.Client
}

// Response is what a request got.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Do sends a request with the headers in header and body to the process,
// with a 10s timeout, and reads the whole response. It is safe for
// concurrent use.
func (p *Proc) Do(method, path string, header map[string]string, body string) (Response, error) {
	req, err := http.NewRequest(method, "http://"+p.Addr+path, strings.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{resp.StatusCode, resp.Header, string(b)}, nil
}

// Must is Do that fails the test on a transport error.
func (p *Proc) Must(method, path string, header map[string]string, body string) Response {
	p.t.Helper()
	r, err := p.Do(method, path, header, body)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// Poll sends GET path every 20ms until the answer's status is want, for at
// most within, and returns the last status it got (0 if it sent none). A
// transport error fails the test.
func (p *Proc) Poll(path string, want int, within time.Duration) int {
	p.t.Helper()
	status := 0
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		r, err := p.Do(http.MethodGet, path, nil, "")
		if err != nil {
			p.t.Fatalf("GET %s: %v", path, err)
		}
		if status = r.Status; status == want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return status
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// Wait waits up to limit for the process to exit and returns Wait's error.
func (p *Proc) Wait(limit time.Duration) error {
	p.t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.done:
		p.client.CloseIdleConnections()
		return p.err
	case <-timer.C:
		p.t.Fatalf("%s did not exit within %v", p.name, limit)
		return nil
	}
}

// Kill sends SIGKILL and waits up to 10s for the process to die of it.
func (p *Proc) Kill() {
	p.t.Helper()
	p.Signal(syscall.SIGKILL)
	err := p.Wait(10 * time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		p.t.Fatalf("after SIGKILL, Wait = %v, want an exit error", err)
	}
}

// firstLine is an io.Writer that sends the first line written to it.
type firstLine struct {
	mu   sync.Mutex
	buf  []byte
	sent bool
	line chan string
}

func newFirstLine() *firstLine { return &firstLine{line: make(chan string, 1)} }

func (f *firstLine) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.sent {
		f.buf = append(f.buf, b...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.sent = true
			f.line <- string(f.buf[:i])
		}
	}
	return len(b), nil
}
