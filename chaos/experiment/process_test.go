package experiment

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keelhq/keel/chaos/tcpproxy"
)

// TestRealProcesses runs services as real processes (this test binary,
// blocking) and kills, restarts and stops them.
func TestRealProcesses(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	child := func(name string) Service {
		return Service{Name: name, Command: []string{os.Args[0], "-test.run=^$"}, Env: map[string]string{childEnv: "1"}, StopTimeout: Duration(2 * time.Second)}
	}
	x := Experiment{
		Title:    "processes",
		Services: []Service{child("a"), child("b")},
		SteadyState: SteadyState{Window: Duration(100 * time.Millisecond), Probes: []Probe{
			{Name: "up", Type: ProbeHTTP, Request: Request{URL: ok.URL}},
		}},
		Method: []Step{
			{Type: StepKill, Service: "a", Signal: "STOP"},
			{Type: StepKill, Service: "b"}, // SIGKILL: the step ends when b is gone
			{Type: StepRestart, Service: "b"},
			{Type: StepRestart, Service: "a"}, // stops the stopped a (SIGCONT, SIGTERM)
		},
	}
	r := MustNew(Config{Experiment: &x, Logger: slog.New(slog.DiscardHandler)})
	var pids []int
	r.start = func(svc *Service, out io.Writer) (process, error) {
		p, err := startExec(svc, out)
		if err == nil {
			pids = append(pids, p.PID())
		}
		return p, err
	}
	j, err := r.Run(t.Context())
	if err != nil || !j.Held {
		t.Fatalf("Run: %v, held %t: %s", err, j.Held, j.Verdict)
	}
	if len(pids) != 4 {
		t.Fatalf("%d processes started, want 4 (a, b, b again, a again)", len(pids))
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("pid %d still runs after the run", pid)
		}
	}
	if want := "sent SIGKILL to b (pid "; !strings.HasPrefix(j.Steps[1].Detail, want) {
		t.Errorf("step 2 detail %q, want %q…", j.Steps[1].Detail, want)
	}
}

// TestPartitionThroughProxy partitions a real TCP fault proxy: the load
// through it fails, and the proxy is enabled again afterwards.
func TestPartitionThroughProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	srv := tcpproxy.MustNew(tcpproxy.Config{Seed: 1})
	defer srv.Close() //nolint:errcheck // test cleanup
	api := httptest.NewServer(srv)
	defer api.Close()
	p, err := srv.CreateProxy(tcpproxy.Proxy{Name: "up", Listen: "127.0.0.1:0", Upstream: strings.TrimPrefix(up.URL, "http://"), Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	x := Experiment{
		Title: "partition",
		Load:  &Load{URL: "http://" + p.Listen + "/", Rate: 50, Timeout: Duration(time.Second)},
		SteadyState: SteadyState{Window: Duration(500 * time.Millisecond), Probes: []Probe{
			{Name: "success", Type: ProbeSuccessRate, Min: 99},
		}},
		Method: []Step{
			{Type: StepPartition, ProxyAPI: api.URL, Proxy: "up"},
			{Type: StepWait, Duration: Duration(600 * time.Millisecond)},
		},
	}
	j, err := MustNew(Config{Experiment: &x, Client: &http.Client{Transport: tr}, Logger: slog.New(slog.DiscardHandler)}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !j.Deviated || j.Probes[0].Value != 100 {
		t.Errorf("deviated %t, success before %v%%; want a deviation after a steady start (%s)", j.Deviated, j.Probes[0].Value, j.Verdict)
	}
	got, err := srv.Proxy("up")
	if err != nil || !got.Enabled {
		t.Errorf("after the run the proxy is %+v (%v), want enabled again", got, err)
	}
	if len(j.Rollbacks) != 1 || !j.Rollbacks[0].Automatic || j.Rollbacks[0].Name != "heal up" {
		t.Errorf("rollbacks %+v, want the automatic heal", j.Rollbacks)
	}
}
