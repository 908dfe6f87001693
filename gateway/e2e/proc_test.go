package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// output collects a process's output lines and lets a test wait for one.
// It is an io.Writer safe for concurrent use.
type output struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced when a line arrives
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.lines = append(o.lines, string(o.partial[:i]))
		o.partial = o.partial[i+1:]
		added = true
	}
	if added {
		close(o.changed)
		o.changed = make(chan struct{})
	}
	return len(p), nil
}

// snapshot returns the lines so far and a channel closed when another
// arrives.
func (o *output) snapshot() ([]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lines[:len(o.lines):len(o.lines)], o.changed
}

// count returns how many lines contain s.
func (o *output) count(s string) int {
	lines, _ := o.snapshot()
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// String is the whole output.
func (o *output) String() string {
	lines, _ := o.snapshot()
	return strings.Join(lines, "\n")
}

// process is a child process started by a test. The test's cleanup kills
// it with SIGKILL if it is still running.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *output // standard output and standard error, interleaved
	done chan struct{}
	err  error // from Wait; read after done is closed
}

// start runs bin with args; the process is killed when the test ends.
func start(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	return startProcess(t, name, exec.Command(bin, args...))
}

// startProcess runs cmd (say, one that enters a network namespace); the
// process is killed when the test ends.
func startProcess(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, out: newOutput(), done: make(chan struct{}), cmd: cmd}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0 exitcode=66")
	p.cmd.WaitDelay = 5 * time.Second // bounds Wait if a pipe stays open
	setParentDeathSignal(p.cmd)
	if err := startCmd(p.cmd); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if !p.wait(10 * time.Second) {
			t.Errorf("%s (pid %d) did not exit after SIGKILL", name, p.cmd.Process.Pid)
		}
		if p.out.count("WARNING: DATA RACE") > 0 {
			t.Errorf("%s reported a data race:\n%s", name, p.out)
		} else if t.Failed() {
			t.Logf("output of %s (last 60 lines):\n%s", name, tail(p.out, 60))
		}
	})
	return p
}

func tail(o *output, n int) string {
	lines, _ := o.snapshot()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kill sends sig unless the process has exited.
func (p *process) kill(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// wait waits up to d for the process to exit and reports whether it did.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// exitCode waits up to d for the process to exit and returns its exit code
// (-1 when a signal ended it).
func (p *process) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	if !p.wait(d) {
		t.Fatalf("%s did not exit within %v", p.name, d)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", p.name, p.err)
	}
	return 0
}

// waitLine waits up to d for an output line containing s and returns it.
func (p *process) waitLine(t *testing.T, s string, d time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		lines, changed := p.out.snapshot()
		for _, l := range lines {
			if strings.Contains(l, s) {
				return l
			}
		}
		select {
		case <-changed:
		case <-p.done:
			// The process is gone: its output is complete.
			lines, _ := p.out.snapshot()
			for _, l := range lines {
				if strings.Contains(l, s) {
					return l
				}
			}
			t.Fatalf("%s exited (%v) before printing %q; output:\n%s", p.name, p.err, s, p.out)
		case <-deadline.C:
			t.Fatalf("%s did not print %q within %v; output:\n%s", p.name, s, d, tail(p.out, 40))
		}
	}
}

// backend is a testbackend process.
type backend struct {
	*process
	addr string // host:port it listens on
}

// startBackend starts a testbackend on addr ("127.0.0.1:0" for any port).
func startBackend(t *testing.T, name, addr string) *backend {
	t.Helper()
	p := start(t, "backend "+name, backendBin, "-addr", addr, "-name", name)
	line := p.waitLine(t, "listening ", 10*time.Second)
	return &backend{process: p, addr: strings.TrimPrefix(line, "listening ")}
}

// startBackends starts n backends named b1…bn.
func startBackends(t *testing.T, n int) []*backend {
	t.Helper()
	bs := make([]*backend, n)
	for i := range bs {
		bs[i] = startBackend(t, fmt.Sprintf("b%d", i+1), "127.0.0.1:0")
	}
	return bs
}

// behavior is the body of a backend's POST /_control.
type behavior struct {
	Status      int `json:"status,omitempty"`
	DelayMS     int `json:"delay_ms,omitempty"`
	FailPercent int `json:"fail_percent,omitempty"`
}

// control changes the backend's behavior.
func (b *backend) control(t *testing.T, c behavior) {
	t.Helper()
	body, _ := json.Marshal(c)
	r := doReq(t, newClient(t), "POST", "http://"+b.addr+"/_control", string(body), nil)
	if r.status != 200 {
		t.Fatalf("%s /_control: %d %s", b.name, r.status, r.body)
	}
}

// requests is how many requests (other than control and health checks)
// the backend has served.
func (b *backend) requests(t *testing.T) int {
	t.Helper()
	var v struct {
		Requests int `json:"requests"`
	}
	getJSON(t, "http://"+b.addr+"/_control", &v)
	return v.Requests
}

// applied returns the backend's /_applied.
func (b *backend) applied(t *testing.T) map[string]int {
	t.Helper()
	m := map[string]int{}
	getJSON(t, "http://"+b.addr+"/_applied", &m)
	return m
}

// gateway is a keel gateway process.
type gateway struct {
	*process
	path  string // its configuration file
	url   string // http://address
	admin string // http://admin-address
	addr  string // host:port of the proxy listener
}

// writeConfig writes yml to path atomically (a rename), as editors and
// configuration management do.
func writeConfig(t *testing.T, path, yml string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".keel.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startGateway writes yml to dir/keel.yaml and runs keel gateway on it,
// waiting for its "gateway started" line.
func startGateway(t *testing.T, dir, yml string, args ...string) *gateway {
	t.Helper()
	path := filepath.Join(dir, "keel.yaml")
	writeConfig(t, path, yml)
	return runGateway(t, path, args...)
}

// runGateway runs keel gateway on an existing configuration file.
func runGateway(t *testing.T, path string, args ...string) *gateway {
	t.Helper()
	p := start(t, "gateway", keelBin, append([]string{"gateway", "-c", path}, args...)...)
	line := p.waitLine(t, `"msg":"gateway started"`, 20*time.Second)
	var started struct {
		Address string `json:"address"`
		Admin   string `json:"admin"`
	}
	if err := json.Unmarshal([]byte(line), &started); err != nil {
		t.Fatalf("gateway started line %q: %v", line, err)
	}
	return &gateway{process: p, path: path, url: "http://" + started.Address, admin: "http://" + started.Admin, addr: started.Address}
}
