package monkey

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startChildren runs n copies of the test binary as replicas that block
// until killed.
func startChildren(t *testing.T, n int, restartDelay time.Duration, pidDir string) *Processes {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProcesses(ProcessesConfig{
		Name:     "child",
		Replicas: n,
		Command: func(int) *exec.Cmd {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1")
			return cmd
		},
		RestartDelay: restartDelay,
		StopTimeout:  2 * time.Second,
		PIDDir:       pidDir,
		Logger:       discard,
	})
	if err != nil {
		t.Fatalf("StartProcesses: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// osLive counts the targets whose process really runs (not a zombie), as
// the kernel sees it. Because a restart between listing the targets and
// checking them could undercount, a low count is confirmed with a second
// listing that must show the same pids.
func osLive(p *Processes) int {
	for {
		ts := p.Targets()
		n := 0
		for _, t := range ts {
			if t.PID > 0 && processAlive(t.PID, time.Time{}) {
				n++
			}
		}
		if slices.Equal(pids(ts), pids(p.Targets())) {
			return n
		}
	}
}

func pids(ts []Target) []int {
	out := make([]int, len(ts))
	for i, t := range ts {
		out[i] = t.PID
	}
	return out
}

// TestKillerRealProcesses runs the killer against real child processes
// with a short mean and samples, as the kernel sees it, how many are alive.
func TestKillerRealProcesses(t *testing.T) {
	const replicas, minAlive = 4, 2
	p := startChildren(t, replicas, 150*time.Millisecond, "")
	k := MustNew(Config{
		Supervisor: p, Mean: 30 * time.Millisecond, MinAlive: minAlive, Seed: 11,
		Schedule: Schedule{Duration: 2 * time.Second}, Logger: discard,
	})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	lowest, samples := replicas, 0
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			lowest = min(lowest, osLive(p))
			samples++
		}
	})
	rep, err := k.Run(t.Context())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if lowest < minAlive {
		t.Errorf("live processes fell to %d, want at least MinAlive %d (%d samples)", lowest, minAlive, samples)
	}
	var killed []int
	for _, kill := range rep.Kills {
		if kill.Err != nil {
			t.Errorf("kill %+v failed", kill)
			continue
		}
		if kill.Signal != syscall.SIGKILL || kill.DryRun {
			t.Errorf("kill %+v, want a real SIGKILL", kill)
		}
		killed = append(killed, kill.PID)
	}
	if len(killed) < 3 || rep.Skipped == 0 {
		t.Fatalf("got %d kills and %d skipped in 2s with a 30ms mean, want at least 3 kills and some skipped", len(killed), rep.Skipped)
	}
	// Every kill shows up as a wait status "killed by SIGKILL", and nothing
	// else died that way.
	time.Sleep(100 * time.Millisecond) // let the last exit be reaped
	var sigkilled []int
	for _, e := range p.Exits() {
		if ws := e.State.Sys().(syscall.WaitStatus); ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			sigkilled = append(sigkilled, e.PID)
		} else {
			t.Errorf("exit of %s (pid %d): %v, want killed by SIGKILL", e.Target, e.PID, e.State)
		}
	}
	slices.Sort(killed)
	slices.Sort(sigkilled)
	if !slices.Equal(killed, sigkilled) {
		t.Errorf("killed pids %v, but wait statuses show SIGKILL for %v", killed, sigkilled)
	}
	t.Logf("%d kills, %d skipped, lowest live %d over %d samples", len(killed), rep.Skipped, lowest, samples)
}

func TestKillerDryRunKillsNothing(t *testing.T) {
	dir := t.TempDir()
	p := startChildren(t, 3, time.Second, dir)
	before := p.Targets()
	k := MustNew(Config{
		Supervisor: PIDFiles{Pattern: filepath.Join(dir, "*.pid")}, Mean: 10 * time.Millisecond,
		Seed: 2, DryRun: true, Schedule: Schedule{Duration: 300 * time.Millisecond}, Logger: discard,
	})
	rep, err := k.Run(t.Context())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Kills) < 5 {
		t.Errorf("got %d dry-run kills, want at least 5", len(rep.Kills))
	}
	for _, kill := range rep.Kills {
		if !kill.DryRun || kill.Live != 3 {
			t.Errorf("kill %+v: want DryRun with 3 live targets", kill)
		}
	}
	if exits := p.Exits(); len(exits) != 0 {
		t.Errorf("a dry run killed processes: %+v", exits)
	}
	if after := p.Targets(); !slices.Equal(before, after) {
		t.Errorf("targets changed during a dry run: before %+v, after %+v", before, after)
	}
}

func TestProcessesRestartsAfterDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	p := startChildren(t, 1, delay, "")
	old := p.Targets()[0]
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var now Target
	for now = p.Targets()[0]; now.PID == old.PID || !now.Alive; now = p.Targets()[0] {
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("replica not restarted after 10s: %+v", now)
		}
		if !now.Alive && now.PID == old.PID && time.Since(killed) > delay {
			break // dead, as it should be, until the restart
		}
		time.Sleep(time.Millisecond)
	}
	for now = p.Targets()[0]; !now.Alive || now.PID == old.PID; now = p.Targets()[0] {
		time.Sleep(time.Millisecond)
	}
	if took := time.Since(killed); took < delay {
		t.Errorf("restarted after %v, want at least RestartDelay %v", took, delay)
	}
}

func TestProcessesRestartAndPIDFiles(t *testing.T) {
	dir := t.TempDir()
	p := startChildren(t, 2, time.Hour, dir)
	files := PIDFiles{Pattern: filepath.Join(dir, "*.pid")}
	if got, want := files.Targets(), p.Targets(); !slices.Equal(got, want) {
		t.Fatalf("pid files say %+v, processes say %+v", got, want)
	}
	old := p.Targets()[1]
	if err := p.Restart(t.Context(), old.Name); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	now := p.Targets()[1]
	if !now.Alive || now.PID == old.PID {
		t.Errorf("after Restart target is %+v, want alive with a pid other than %d", now, old.PID)
	}
	exits := p.Exits()
	if len(exits) != 1 || exits[0].PID != old.PID {
		t.Fatalf("exits %+v, want one of pid %d", exits, old.PID)
	}
	if ws := exits[0].State.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("restarted process ended with %v, want SIGTERM", exits[0].State)
	}
	b, err := os.ReadFile(filepath.Join(dir, now.Name+".pid"))
	if err != nil || string(b) != strconv.Itoa(now.PID)+"\n" {
		t.Errorf("pid file holds %q (%v), want %d", b, err, now.PID)
	}
	if err := p.Restart(t.Context(), "nope"); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("Restart(unknown) = %v, want ErrUnknownTarget", err)
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Restart(t.Context(), old.Name); !errors.Is(err, ErrClosed) {
		t.Errorf("Restart after Close = %v, want ErrClosed", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("files left after Close: %v", left)
	}
	for _, tg := range p.Targets() {
		if tg.Alive || processAlive(tg.PID, time.Time{}) {
			t.Errorf("target %+v alive after Close", tg)
		}
	}
}

func TestPIDFilesLiveness(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mtime time.Time) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if !mtime.IsZero() {
			if err := os.Chtimes(path, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A reaped child: its pid no longer exists.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	write("self.pid", strconv.Itoa(self)+"\n", time.Time{})
	write("dead.pid", strconv.Itoa(dead.Process.Pid), time.Time{})
	write("garbage.pid", "not a pid", time.Time{})
	// Written long before this process started: the pid was reused.
	write("reused.pid", strconv.Itoa(self), time.Unix(1_000_000_000, 0))
	write("other.txt", "1", time.Time{})

	got := PIDFiles{Pattern: filepath.Join(dir, "*.pid")}.Targets()
	want := []Target{
		{Name: "dead", PID: dead.Process.Pid},
		{Name: "garbage"},
		{Name: "reused", PID: self},
		{Name: "self", PID: self, Alive: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Targets() = %+v, want %+v", got, want)
	}
	if got := (PIDFiles{}).Targets(); got != nil {
		t.Errorf("zero PIDFiles: Targets() = %+v, want none", got)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in    string
		state byte
		start uint64
		ok    bool
	}{
		{"1234 (a) b) (c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987 20 21", 'S', 987, true},
		{"1 (z) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 5", 'Z', 5, true},
		{"1 (short) S 1 2", 0, 0, false},
		{"no paren", 0, 0, false},
	}
	for _, tt := range tests {
		state, start, ok := parseStat([]byte(tt.in))
		if state != tt.state || start != tt.start || ok != tt.ok {
			t.Errorf("parseStat(%q) = %q, %d, %v; want %q, %d, %v", tt.in, state, start, ok, tt.state, tt.start, tt.ok)
		}
	}
}

func TestStartProcessesErrors(t *testing.T) {
	if _, err := StartProcesses(ProcessesConfig{}); !errors.Is(err, ErrConfig) {
		t.Errorf("StartProcesses without Command = %v, want ErrConfig", err)
	}
	_, err := StartProcesses(ProcessesConfig{Replicas: 2, Logger: discard, Command: func(int) *exec.Cmd {
		return exec.Command(filepath.Join(t.TempDir(), "missing"))
	}})
	if err == nil {
		t.Errorf("StartProcesses of a missing binary succeeded")
	}
}

func BenchmarkPIDFilesTargets(b *testing.B) {
	dir := b.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)+".pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	f := PIDFiles{Pattern: filepath.Join(dir, "*.pid")}
	b.ReportAllocs()
	for b.Loop() {
		if ts := f.Targets(); len(ts) != 3 || !ts[0].Alive {
			b.Fatalf("targets %+v", ts)
		}
	}
}
