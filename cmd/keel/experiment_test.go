package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/chaos"
	"github.com/keelhq/keel/chaos/experiment"
	"github.com/keelhq/keel/gateway/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestExperimentFileErrors checks the errors of invalid experiment files,
// each with its line and column, against testdata/experiment/*.golden.
func TestExperimentFileErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/experiment/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	vars := map[string]string{"PORT": "8080"}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := loadExperiment(path, func(k string) string { return vars[k] })
			if err == nil {
				t.Fatal("no error for an invalid file")
			}
			var b strings.Builder
			for _, e := range config.Errors(err) {
				fmt.Fprintln(&b, e)
			}
			if len(config.Errors(err)) == 0 {
				t.Fatalf("error %v is not a list of *config.Error", err)
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("errors (-want +got; go test -update rewrites):\n%s", diff)
			}
		})
	}
}

func TestExperimentFileParses(t *testing.T) {
	const file = `
x-wait: &wait {type: wait, duration: 500ms}
title: Payments survive
description: a test
seed: 42
gateway: {url: "http://127.0.0.1:9901", token: "${TOKEN}"}
services:
  - {name: api, command: ["${BIN}/api", -addr, "127.0.0.1:${PORT:-8080}"], ready: "http://127.0.0.1:8080/healthz", env: {MODE: test}}
load:
  url: "http://127.0.0.1:8080/charges"
  method: POST
  body: '{"amount": 5}'
  rate: ${RATE}    # plain, so typed after the replacement
  idempotency_keys: true
steady_state:
  window: 2s
  probes:
    - {name: success, type: success_rate, min: 99.5%}
    - {name: p99, type: latency, percentile: 99%, max: 250ms}
    - {name: ledger, type: http, url: "http://127.0.0.1:8080/ledger", expect_status: 200, expect_body_contains: ok, expect_json: {path: a.b, equals: [1, "two"]}}
method:
  - {type: fault, fault: {kind: error, status: 503, percent: 50%, route: items, duration: 3s}}
  - *wait
  - {type: kill, service: api, signal: TERM}
  - {type: restart, service: api}
  - {type: partition, proxy_api: "http://127.0.0.1:8474", proxy: redis}
  - {type: http, method: POST, url: "http://127.0.0.1:8080/x", body: "{}", expect_status: 202, headers: {X-A: b}}
rollbacks:
  - {type: clear_faults}
  - {type: heal, proxy_api: "http://127.0.0.1:8474", proxy: redis}
`
	vars := map[string]string{"TOKEN": "secret", "BIN": "/opt/bin", "RATE": "25"}
	got, err := parseExperiment("exp.yaml", []byte(file), func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	d := func(s string) experiment.Duration {
		v, _ := time.ParseDuration(s)
		return experiment.Duration(v)
	}
	want := &experiment.Experiment{
		Title: "Payments survive", Description: "a test", Seed: 42,
		Gateway:  &experiment.Gateway{URL: "http://127.0.0.1:9901", Token: "secret"},
		Services: []experiment.Service{{Name: "api", Command: []string{"/opt/bin/api", "-addr", "127.0.0.1:8080"}, Ready: "http://127.0.0.1:8080/healthz", Env: map[string]string{"MODE": "test"}}},
		Load:     &experiment.Load{URL: "http://127.0.0.1:8080/charges", Method: "POST", Body: `{"amount": 5}`, Rate: 25, IdempotencyKeys: true},
		SteadyState: experiment.SteadyState{Window: d("2s"), Probes: []experiment.Probe{
			{Name: "success", Type: experiment.ProbeSuccessRate, Min: 99.5},
			{Name: "p99", Type: experiment.ProbeLatency, Percentile: 99, Max: d("250ms")},
			{Name: "ledger", Type: experiment.ProbeHTTP, Request: experiment.Request{URL: "http://127.0.0.1:8080/ledger"}, ExpectStatus: 200,
				ExpectBodyContains: "ok", ExpectJSON: &experiment.JSONExpect{Path: "a.b", Equals: []any{1, "two"}}},
		}},
		Method: []experiment.Step{
			{Type: experiment.StepFault, Fault: &chaos.Fault{Kind: chaos.KindError, Status: 503, Percent: chaos.Percent(50), Route: "items", Duration: chaos.Duration(3 * time.Second)}},
			{Type: experiment.StepWait, Duration: d("500ms")},
			{Type: experiment.StepKill, Service: "api", Signal: "TERM"},
			{Type: experiment.StepRestart, Service: "api"},
			{Type: experiment.StepPartition, ProxyAPI: "http://127.0.0.1:8474", Proxy: "redis"},
			{Type: experiment.StepHTTP, Request: experiment.Request{Method: "POST", URL: "http://127.0.0.1:8080/x", Body: "{}", Headers: map[string]string{"X-A": "b"}}, ExpectStatus: 202},
		},
		Rollbacks: []experiment.Step{
			{Type: experiment.StepClearFaults},
			{Type: experiment.StepHeal, ProxyAPI: "http://127.0.0.1:8474", Proxy: "redis"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parsed (-want +got):\n%s", diff)
	}
}

func TestExperimentCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("title: t\nsteady_state: {probes: [{name: up, type: http, url: \"http://127.0.0.1:1/\"}]}\nmethod: [{type: wait, duration: 1s}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := "testdata/experiment/semantic.yaml"
	for _, tc := range []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{[]string{"experiment"}, exitUsage, "", "Usage: keel experiment <command>"},
		{[]string{"experiment", "help"}, exitOK, "validate", ""},
		{[]string{"experiment", "nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"experiment", "validate"}, exitUsage, "", "give one experiment file"},
		{[]string{"experiment", "validate", good}, exitOK, "valid (0 services, 1 probes, 1 steps, 0 rollbacks)", ""},
		{[]string{"experiment", "validate", bad}, exitUsage, "", bad + ":9:18: method[0].service: \"apii\" is not a service"},
		{[]string{"experiment", "run", bad}, exitUsage, "", "semantic.yaml:1:1: title: is required"},
		{[]string{"experiment", "run", "-report"}, exitUsage, "", "flag needs an argument"},
		{[]string{"experiment", "run", "-h"}, exitOK, "", "Exit status: 0 when the hypothesis held"},
		{[]string{"help", "experiment"}, exitOK, "run", ""},
	} {
		code, stdout, stderr := runKeel(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
			t.Errorf("keel %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.args, code, stdout, stderr, tc.code, tc.wantStdout, tc.wantStderr)
		}
	}
}

// TestExperimentExamples runs the examples in examples/experiments against
// freshly built keel and testbackend binaries: the replica-kill experiment
// holds (exit 0), the unprotected-route one is violated (exit 1). Ports are
// rewritten to free ones.
func TestExperimentExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs for about 15 s")
	}
	bin := t.TempDir()
	for _, pkg := range []string{"github.com/keelhq/keel/cmd/keel", "github.com/keelhq/keel/gateway/internal/testbackend"} {
		cmd := exec.Command("go", "build", "-o", bin+string(filepath.Separator), pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	dir := copyWithFreePorts(t, "../../examples/experiments")
	vars := map[string]string{"BIN": bin, "DIR": dir}
	for _, tc := range []struct {
		file     string
		code     int
		deviated bool
	}{
		{"gateway-replica-kill.yaml", exitOK, false},
		{"gateway-unprotected.yaml", exitFailure, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out := t.TempDir()
			journal, report := filepath.Join(out, "journal.json"), filepath.Join(out, "report.html")
			start := time.Now()
			code, stdout, stderr := runKeel(t, vars, "experiment", "run", "-journal", journal, "-report", report,
				"-logs", filepath.Join(out, "logs"), filepath.Join(dir, tc.file))
			t.Logf("%s took %v:\n%s", tc.file, time.Since(start).Round(time.Millisecond), stdout)
			if code != tc.code {
				logs, _ := filepath.Glob(filepath.Join(out, "logs", "*"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					t.Logf("%s:\n%s", filepath.Base(l), b)
				}
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			data, err := os.ReadFile(journal)
			if err != nil {
				t.Fatal(err)
			}
			var j experiment.Journal
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatalf("journal: %v", err)
			}
			if j.Deviated != tc.deviated || j.Status != experiment.StatusCompleted || len(j.Series) == 0 || len(j.Steps) == 0 {
				t.Errorf("journal: deviated %t, status %s, %d seconds of load, %d steps; want deviated %t, completed",
					j.Deviated, j.Status, len(j.Series), len(j.Steps), tc.deviated)
			}
			page, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(page), "<svg "); n != 2 || !strings.Contains(string(page), "<polyline") {
				t.Errorf("report has %d SVG plots, want 2 with data", n)
			}
		})
	}
}

var portRE = regexp.MustCompile(`127\.0\.0\.1:(193\d\d)`)

// copyWithFreePorts copies the YAML files of dir to a temporary directory,
// replacing each fixed 193xx port with a free one (the same for the same
// port across files).
func copyWithFreePorts(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", dir, err)
	}
	ports := map[string]string{}
	out := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := portRE.ReplaceAllStringFunc(string(b), func(m string) string {
			old := strings.TrimPrefix(m, "127.0.0.1:")
			if ports[old] == "" {
				ports[old] = freePort(t)
			}
			return "127.0.0.1:" + ports[old]
		})
		if err := os.WriteFile(filepath.Join(out, filepath.Base(f)), []byte(s), 0o600); err != nil { //nolint:gosec // a temporary directory of the test's own
			t.Fatal(err)
		}
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() //nolint:errcheck // only its port is wanted
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func FuzzParseExperiment(f *testing.F) {
	files, _ := filepath.Glob("testdata/experiment/*.yaml")
	files = append(files, "../../examples/experiments/gateway-replica-kill.yaml", "../../examples/experiments/gateway-unprotected.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := parseExperiment("f.yaml", data, func(string) string { return "1" })
		if err != nil {
			if len(config.Errors(err)) == 0 {
				t.Errorf("error %v is not a list of *config.Error", err)
			}
			return
		}
		if err := x.Validate(); err != nil {
			t.Errorf("parsed an invalid experiment: %v", err)
		}
	})
}
