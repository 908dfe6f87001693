package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/keeltest"
)

// demoExecEnv makes this test binary act as keel: "keel demo" re-executes
// its own binary (here, the test binary) to run the gateway and the
// services, and init hands such a child straight to run.
const demoExecEnv = "KEEL_TEST_EXEC_KEEL"

func init() {
	if os.Getenv(demoExecEnv) == "1" {
		e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
		os.Exit(run(context.Background(), e, os.Args[1:]))
	}
}

// TestDemo runs "keel demo -no-resilience" for a short duration: a run
// without Keel's policies, then the same run with them, real processes,
// real kills. While the run with Keel goes on, a headless Chromium watches
// its dashboard (see checkDashboard) until the bad recommendations
// replica's breaker opens. The test then checks the verdict of the run with
// Keel (no charge applied twice or lost, the success targets met, at least
// one breaker opened, exit status 0), that the run without shows failures,
// and that no child process outlives the command.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for about 50s")
	}
	t.Setenv(demoExecEnv, "1")
	t.Setenv("TMPDIR", t.TempDir()) // the runs' directories, kept or not
	// The demo's processes run a keel built without the race detector: the
	// orchestration, load and chaos run here, race-checked; replicas and a
	// gateway slowed several times by race instrumentation would make the
	// success targets a matter of the machine's load.
	keelBin := filepath.Join(t.TempDir(), "keel")
	if out, err := exec.Command("go", "build", "-o", keelBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr keeltest.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, getenv: os.Getenv}
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var code int
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		code = run(ctx, e, []string{"demo", "-no-resilience", "-duration", "20s", "-seed", "3", "-keel", keelBin})
	}()
	t.Run("dashboard", func(t *testing.T) {
		url, err := waitDashboardURL(ctx, &stdout, finished)
		if err != nil {
			t.Fatal(err)
		}
		checkDashboard(t, ctx, url)
	})
	<-finished
	t.Logf("keel demo took %v; output:\n%s\nstderr:\n%s", time.Since(start).Round(time.Second), stdout.String(), stderr.String())
	if orphans := children(t); len(orphans) > 0 {
		t.Errorf("child processes left running: %v", orphans)
	}
	if code != exitOK {
		t.Fatalf("keel demo exited %d, want 0", code)
	}
	out := stdout.String()
	for _, want := range []string{"dashboard  http://127.0.0.1:", "killed with SIGKILL", "recommendations-", "PASS: no charge applied twice"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output has no %q", want)
		}
	}
	rows := verdictRows(t, out)
	if got := rows["duplicate charges (want 0)"]; len(got) != 2 || got[1] != "0" {
		t.Errorf("duplicate charges: got %q, want 0 with Keel", got)
	}
	if got := rows["lost charges (want 0)"]; len(got) != 2 || got[0] != "0" || got[1] != "0" {
		t.Errorf("lost charges: got %q, want 0 in both runs", got)
	}
	if got := rows["verdict"]; len(got) != 2 || got[1] != "PASS" {
		t.Errorf("verdict: got %q, want PASS with Keel", got)
	}
	// The bad recommendations replica opens its breaker with Keel; without,
	// there is no breaker.
	if got := rows["breaker openings"]; len(got) != 2 || got[0] != "0" || atoi(t, got[1]) < 1 {
		t.Errorf("breaker openings: got %q, want 0 without Keel and at least 1 with", got)
	}
	charges, reads := rows["charges succeeded"], rows["recommendations succeeded"]
	if len(charges) != 2 || len(reads) != 2 {
		t.Fatalf("success rows: charges %q, recommendations %q", charges, reads)
	}
	if rate := percentOf(t, charges[1]); rate < 99.9 {
		t.Errorf("charges succeeded %v%% with Keel, want at least 99.9%%", rate)
	}
	if rate := percentOf(t, reads[1]); rate < 99 {
		t.Errorf("recommendations succeeded %v%% with Keel, want at least 99%%", rate)
	}
	// Without Keel, requests fail: the client's retries cannot hide every
	// 503 and timeout from the recommendations faults and the dead replicas.
	if c, r := percentOf(t, charges[0]), percentOf(t, reads[0]); c == 100 && r == 100 {
		t.Errorf("without Keel every request succeeded (charges %v%%, recommendations %v%%); the chaos did not bite", c, r)
	}
	t.Logf("without Keel: charges %s, recommendations %s, duplicate charges %s", charges[0], reads[0], rows["duplicate charges (want 0)"][0])
}

func atoi(t *testing.T, cell string) int {
	t.Helper()
	n, err := strconv.Atoi(cell)
	if err != nil {
		t.Fatalf("cell %q is not a number", cell)
	}
	return n
}

// verdictRows parses the verdict table: label → one cell per column.
func verdictRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	_, table, ok := strings.Cut(out, "Verdict (seed")
	if !ok {
		t.Fatalf("no verdict table in the output")
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := splitCells(line)
		if len(cells) == 3 {
			rows[cells[0]] = cells[1:]
		}
	}
	return rows
}

// splitCells splits a table row at runs of two or more spaces.
func splitCells(line string) []string {
	var cells []string
	for _, c := range strings.Split(strings.TrimSpace(line), "  ") {
		if c = strings.TrimSpace(c); c != "" {
			cells = append(cells, c)
		}
	}
	return cells
}

func percentOf(t *testing.T, cell string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.TrimSuffix(cell, "%"), 64)
	if err != nil {
		t.Fatalf("cell %q is not a percentage", cell)
	}
	return f
}

// children lists the live processes whose parent is this one.
func children(t *testing.T) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Log("no /proc: not checking for leftover processes")
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	var out []string
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces, so cut at the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 && f[1] == self && f[0] != "Z" {
			out = append(out, s[:i+1])
		}
	}
	return out
}
