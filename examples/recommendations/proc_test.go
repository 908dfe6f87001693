package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binary is the recommendations command built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "recommendations-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	binary = filepath.Join(dir, "recommendations")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the recommendations command:", err)
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

// proc is a running recommendations process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{} // closed when Wait returned
	err    error         // Wait's result, set before done is closed
	client *http.Client
}

// start runs the recommendations command with the extra flags (the last
// -name wins), and waits for its "listening" line.
func start(t *testing.T, flags ...string) *proc {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-name", "recommendations-test"}, flags...)
	cmd := exec.Command(binary, args...) //nolint:gosec // the binary the test built
	first := newFirstLine()
	p := &proc{
		t: t, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{}),
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
			t.Logf("recommendations stderr:\n%s", p.stderr)
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
		p.addr = addr
	case <-p.done:
		t.Fatalf("recommendations exited before listening: %v\n%s", p.err, p.stderr)
	case <-timer.C:
		t.Fatalf("recommendations did not print its address within 30s\n%s", p.stderr)
	}
	return p
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   string
}

func (p *proc) do(method, path string, header map[string]string, body string) (response, error) {
	req, err := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{resp.StatusCode, resp.Header, string(b)}, nil
}

// must is do that fails the test on a transport error.
func (p *proc) must(method, path string, header map[string]string, body string) response {
	p.t.Helper()
	r, err := p.do(method, path, header, body)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// wait waits up to limit for the process to exit and returns Wait's error.
func (p *proc) wait(limit time.Duration) error {
	p.t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.done:
		p.client.CloseIdleConnections()
		return p.err
	case <-timer.C:
		p.t.Fatalf("recommendations did not exit within %v", limit)
		return nil
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

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(b)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// execOutput runs the binary to completion (bounded) and returns its
// combined output.
func execOutput(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput() //nolint:gosec // the binary the test built
	return string(out), err
}
