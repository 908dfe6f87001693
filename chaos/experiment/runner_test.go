package experiment

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/chaos"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// baseExperiment kills a service, adds a 5% fault, restarts the service,
// partitions a proxy and sends a request; its hypothesis holds.
func baseExperiment() Experiment {
	return Experiment{
		Title:   "fake world",
		Seed:    1,
		Gateway: &Gateway{URL: "http://gw", Token: "secret"},
		Services: []Service{
			{Name: "a", Command: []string{"a"}, Ready: "http://a/healthz"},
			{Name: "b", Command: []string{"b"}},
		},
		Load: &Load{URL: "http://gw/items", Rate: 10},
		SteadyState: SteadyState{Window: Duration(time.Second), Probes: []Probe{
			{Name: "success", Type: ProbeSuccessRate, Min: 90},
			{Name: "latency", Type: ProbeLatency, Max: Duration(100 * time.Millisecond)},
			{Name: "ledger", Type: ProbeHTTP, Request: Request{URL: "http://gw/check"}, ExpectJSON: &JSONExpect{Path: "ledger.dupes", Equals: 0}},
		}},
		Method: []Step{
			{Type: StepKill, Service: "a"},
			{Type: StepFault, Fault: &chaos.Fault{Kind: chaos.KindError, Status: 503, Percent: chaos.Percent(5)}},
			{Type: StepWait, Duration: Duration(time.Second)},
			{Type: StepRestart, Service: "a"},
			{Type: StepPartition, ProxyAPI: "http://proxy", Proxy: "db"},
			{Type: StepHTTP, Request: Request{Method: "POST", URL: "http://gw/ok", Body: `{"n": 1}`}},
		},
		Rollbacks: []Step{{Type: StepClearFaults}},
	}
}

func TestRunHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFakeWorld()
		j, err := newTestRunner(t, w, baseExperiment()).Run(t.Context())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !j.Held || j.Deviated || j.Status != StatusCompleted {
			t.Errorf("held %t, deviated %t, status %s; want true, false, completed (verdict: %s)", j.Held, j.Deviated, j.Status, j.Verdict)
		}
		wantCalls := []string{
			"POST gw/faults",
			"POST proxy/proxies/db enabled=false",
			"POST gw/ok",
			"DELETE gw/faults/error-1",           // automatic: the fault the method added
			"POST proxy/proxies/db enabled=true", // automatic: the partition healed
			"DELETE gw/faults",                   // the declared rollback
		}
		if diff := cmp.Diff(wantCalls, w.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		wantSignals := []string{"a SIGKILL", "b SIGTERM", "b SIGCONT", "a SIGTERM", "a SIGCONT"}
		if diff := cmp.Diff(wantSignals, w.signals); diff != "" {
			t.Errorf("signals (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a", "b", "a"}, w.starts); diff != "" {
			t.Errorf("starts (-want +got):\n%s", diff)
		}
		if r := w.running(); len(r) != 0 {
			t.Errorf("still running after the run: %v", r)
		}
		if len(w.events) != 8 || w.events[0] != "experiment_started: fake world" || w.events[7] != "experiment_ended: fake world" {
			t.Errorf("events: %q; want started, 6 steps, ended", w.events)
		}
		// 3 probes before, after each of 6 steps and after.
		if got, want := len(j.Probes), 3*8; got != want {
			t.Errorf("%d probe evaluations, want %d", got, want)
		}
	})
}

// TestJournalGolden pins the journal's JSON shape. Inside the bubble time
// starts at 2000-01-01 and requests served in memory take no time, so the
// journal is the same on every run.
func TestJournalGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := baseExperiment()
		x.Method[1].Fault.Percent = chaos.Percent(25) // a deviation to record
		j, err := newTestRunner(t, newFakeWorld(), x).Run(t.Context())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		var b bytes.Buffer
		if err := j.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, "journal.golden.json", b.Bytes())
	})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", name, diff)
	}
}

func TestRunDeviated(t *testing.T) {
	for _, failFast := range []bool{false, true} {
		t.Run(map[bool]string{false: "to the end", true: "fail fast"}[failFast], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newFakeWorld()
				x := baseExperiment()
				x.FailFast = failFast
				x.Method[1].Fault.Percent = chaos.Percent(50)
				j, err := newTestRunner(t, w, x).Run(t.Context())
				if !j.Deviated || j.Held {
					t.Errorf("deviated %t, held %t; want true, false", j.Deviated, j.Held)
				}
				if !strings.Contains(j.Verdict, "success after step 3 (wait 1s)") {
					t.Errorf("verdict %q does not say where", j.Verdict)
				}
				wantSteps, wantStatus := 6, StatusCompleted
				if failFast {
					wantSteps, wantStatus = 3, StatusAborted
					if !errors.Is(err, ErrDeviated) {
						t.Errorf("Run: %v, want ErrDeviated", err)
					}
				} else if err != nil {
					t.Errorf("Run: %v, want nil (a deviation is a finding, not an error)", err)
				}
				if len(j.Steps) != wantSteps || j.Status != wantStatus {
					t.Errorf("%d steps ran, status %s; want %d, %s", len(j.Steps), j.Status, wantSteps, wantStatus)
				}
				if len(w.faults) != 0 {
					t.Errorf("faults left behind: %v", w.faults)
				}
			})
		})
	}
}

// TestRollbacksAlwaysRun: whatever ends the run early, the method's fault is
// removed, the partition healed, the declared rollbacks run and every
// service is stopped.
func TestRollbacksAlwaysRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		change     func(*Experiment, *fakeWorld)
		cancelAt   time.Duration
		wantStatus Status
		wantErr    error
		wantSteps  int
	}{
		{
			name: "a step fails",
			change: func(x *Experiment, _ *fakeWorld) {
				x.Method[5] = Step{Type: StepHTTP, Request: Request{Method: "POST", URL: "http://gw/fail"}}
			},
			wantStatus: StatusFailed, wantErr: ErrStepFailed, wantSteps: 6,
		},
		{
			name: "the context is canceled",
			change: func(x *Experiment, _ *fakeWorld) {
				x.Method[2].Duration = Duration(time.Hour)
			},
			cancelAt:   3500 * time.Millisecond, // inside the wait
			wantStatus: StatusInterrupted, wantErr: context.Canceled, wantSteps: 3,
		},
		{
			name:       "no steady state before",
			change:     func(_ *Experiment, w *fakeWorld) { w.dupes = 1 },
			wantStatus: StatusAborted, wantErr: ErrNotSteady, wantSteps: 0,
		},
		{
			name:       "a restarted service does not come up",
			change:     func(_ *Experiment, w *fakeWorld) { w.againErr["a"] = errors.New("port in use") },
			wantStatus: StatusFailed, wantErr: ErrService, wantSteps: 4,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newFakeWorld()
				x := baseExperiment()
				tc.change(&x, w)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tc.cancelAt > 0 {
					go func() {
						time.Sleep(tc.cancelAt)
						cancel()
					}()
				}
				j, err := newTestRunner(t, w, x).Run(ctx)
				if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("Run: %v, want %v", err, tc.wantErr)
				}
				if j.Status != tc.wantStatus || len(j.Steps) != tc.wantSteps {
					t.Errorf("status %s after %d steps, want %s after %d (verdict: %s)", j.Status, len(j.Steps), tc.wantStatus, tc.wantSteps, j.Verdict)
				}
				if len(w.faults) != 0 || w.proxies["db"] == false && tc.wantSteps >= 5 {
					t.Errorf("left behind: faults %v, proxies %v", w.faults, w.proxies)
				}
				last := j.Rollbacks[len(j.Rollbacks)-1]
				if last.Type != StepClearFaults || last.Automatic || last.Status != "ok" {
					t.Errorf("last rollback %+v, want the declared clear_faults, ok", last)
				}
				if r := w.running(); len(r) != 0 {
					t.Errorf("still running after the run: %v", r)
				}
			})
		})
	}
}

func TestServiceFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		world func(*fakeWorld)
		want  string
	}{
		{"start fails", func(w *fakeWorld) { w.startErr["b"] = errors.New("no such file") }, "experiment: service failed: b: no such file"},
		{"exits before ready", func(w *fakeWorld) { w.dieAt["a"] = true }, "a: exited before it was ready (exit status 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newFakeWorld()
				tc.world(w)
				j, err := newTestRunner(t, w, baseExperiment()).Run(t.Context())
				if !errors.Is(err, ErrService) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Run: %v, want ErrService with %q", err, tc.want)
				}
				if j.Status != StatusFailed || len(j.Steps) != 0 {
					t.Errorf("status %s after %d steps, want failed after 0", j.Status, len(j.Steps))
				}
				if r := w.running(); len(r) != 0 {
					t.Errorf("still running after the run: %v", r)
				}
			})
		})
	}
}

func TestReadyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFakeWorld()
		x := baseExperiment()
		x.Services[0].Ready = "http://gw/fail"
		x.Services[0].ReadyTimeout = Duration(2 * time.Second)
		start := time.Now()
		_, err := newTestRunner(t, w, x).Run(t.Context())
		if want := "not ready after 2s: GET http://gw/fail: status 500"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run: %v, want %q", err, want)
		}
		if took := time.Since(start); took < 2*time.Second || took > 3*time.Second {
			t.Errorf("gave up after %v, want about 2s", took)
		}
	})
}

// TestStopEscalates: a service that ignores SIGTERM is killed after its
// stop timeout.
func TestStopEscalates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFakeWorld()
		w.stubborn["b"] = true
		x := baseExperiment()
		x.Services[1].StopTimeout = Duration(2 * time.Second)
		start := time.Now()
		j, err := newTestRunner(t, w, x).Run(t.Context())
		if err != nil || !j.Held {
			t.Fatalf("Run: %v, held %t", err, j.Held)
		}
		wantSignals := []string{"a SIGKILL", "b SIGTERM", "b SIGCONT", "b SIGKILL", "a SIGTERM", "a SIGCONT"}
		if diff := cmp.Diff(wantSignals, w.signals); diff != "" {
			t.Errorf("signals (-want +got):\n%s", diff)
		}
		if r := w.running(); len(r) != 0 {
			t.Errorf("still running after the run: %v", r)
		}
		if took := time.Since(start); took != 5*time.Second {
			t.Errorf("the run took %v, want 5s (3s of run, 2s waiting for b)", took)
		}
	})
}
