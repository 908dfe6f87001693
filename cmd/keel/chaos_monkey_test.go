package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// runMonkey runs "keel chaos monkey args..." in-process and returns its exit
// code, stdout and stderr.
func runMonkey(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	code := run(context.Background(), e, append([]string{"chaos", "monkey"}, args...))
	return code, stdout.String(), stderr.String()
}

func TestChaosMonkeyUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "give -pidfiles or -replicas and a command"},
		{[]string{"-pidfiles", "x/*.pid", "-replicas", "2", "--", "sleep", "1"}, "-pidfiles and -replicas are exclusive"},
		{[]string{"-replicas", "2"}, "-replicas needs a command after the flags"},
		{[]string{"-pidfiles", "x/*.pid", "sleep"}, `unexpected argument "sleep"`},
		{[]string{"-pidfiles", "[", "-dry-run"}, "-pidfiles \"[\": syntax error in pattern"},
		{[]string{"-pidfiles", "x/*.pid", "-signal", "STOP"}, `signal "STOP" is not one of KILL, TERM`},
		{[]string{"-pidfiles", "x/*.pid", "-signal", "restart"}, "-signal restart needs -replicas"},
		{[]string{"-pidfiles", "x/*.pid", "-window", "9-5"}, "-window: monkey: invalid schedule"},
		{[]string{"-pidfiles", "x/*.pid", "-min-alive", "0"}, "-min-alive 0: at least 1 replica must stay alive"},
		{[]string{"-pidfiles", "x/*.pid", "-mean", "-1s"}, "Mean -1s is negative"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		code, _, stderr := runMonkey(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("keel chaos monkey %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
	if code, _, stderr := runMonkey(t, "-h"); code != exitOK || !strings.Contains(stderr, "-pidfiles glob") {
		t.Errorf("keel chaos monkey -h: exit %d, stderr %q", code, stderr)
	}
}

// sleepers starts n sleep processes, writes their pid files into a new
// directory, and returns the directory and the processes.
func sleepers(t *testing.T, n int) (string, []*exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	var cmds []*exec.Cmd
	for i := range n {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		if err := os.WriteFile(filepath.Join(dir, "s"+strconv.Itoa(i)+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, cmds
}

func TestChaosMonkeyDryRun(t *testing.T) {
	dir, cmds := sleepers(t, 3)
	code, stdout, stderr := runMonkey(t, "-pidfiles", filepath.Join(dir, "*.pid"), "-mean", "10ms",
		"-duration", "300ms", "-dry-run", "-seed", "42", "-min-alive", "2")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !regexp.MustCompile(`^seed=42 kills=[1-9]\d* failed=0 skipped=0 dry_run=true\n$`).MatchString(stdout) {
		t.Errorf("stdout %q, want a summary of a dry run with seed 42 and some kills", stdout)
	}
	if !strings.Contains(stderr, `msg="chaos monkey would kill (dry run)" monkey=monkey seed=42 target=s`) {
		t.Errorf("stderr lacks the dry-run kills:\n%s", stderr)
	}
	for _, c := range cmds {
		if err := c.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("pid %d after a dry run: %v", c.Process.Pid, err)
		}
	}
}

func TestChaosMonkeyPIDFilesKills(t *testing.T) {
	dir, cmds := sleepers(t, 2)
	code, stdout, stderr := runMonkey(t, "-pidfiles", filepath.Join(dir, "*.pid"), "-mean", "10ms",
		"-duration", "300ms", "-signal", "TERM", "-seed", "1")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	// With two targets and the default -min-alive 1, exactly one is killed;
	// later kills are skipped.
	if !strings.HasPrefix(stdout, "seed=1 kills=1 failed=0 skipped=") {
		t.Errorf("stdout %q, want one kill", stdout)
	}
	terminated := 0
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGKILL) // the survivor
		_ = c.Wait()
		if ws := c.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			terminated++
		}
	}
	if terminated != 1 {
		t.Errorf("%d processes ended by SIGTERM, want 1\nstderr:\n%s", terminated, stderr)
	}
}

func TestChaosMonkeyReplicas(t *testing.T) {
	pidDir := t.TempDir()
	code, stdout, stderr := runMonkey(t, "-replicas", "3", "-min-alive", "2", "-mean", "20ms", "-duration", "500ms",
		"-restart-delay", "100ms", "-pid-dir", pidDir, "-seed", "3", "--", "sh", "-c", "echo replica $KEEL_REPLICA up; echo oops >&2; exec sleep 6{replica}")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !regexp.MustCompile(`(?m)^seed=3 kills=[1-9]\d* failed=0 skipped=[1-9]\d* dry_run=false\n`).MatchString(stdout) {
		t.Errorf("stdout %q, want kills and skipped kills", stdout)
	}
	if !strings.Contains(stdout, "replica 2 up\n") {
		t.Errorf("stdout lacks the replicas' output:\n%s", stdout)
	}
	for _, want := range []string{`msg="chaos monkey killed"`, `status="signal: killed"`, `msg="replica started" target=replica-2`, "oops\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(pidDir, "*.pid")); len(left) != 0 {
		t.Errorf("pid files left after the replicas stopped: %v", left)
	}
}
