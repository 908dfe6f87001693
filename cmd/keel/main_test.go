package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runKeel runs keel in process with args and returns its exit code, stdout
// and stderr.
func runKeel(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	code := run(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{nil, exitUsage, "", "Usage: keel <command>"},
		{[]string{"help"}, exitOK, "gateway", ""},
		{[]string{"--help"}, exitOK, "validate", ""},
		{[]string{"help", "gateway"}, exitOK, "", "SIGHUP"},
		{[]string{"help", "nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"version"}, exitOK, "keel ", ""},
		{[]string{"--version"}, exitOK, "keel ", ""},
		{[]string{"gateway", "-bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{[]string{"validate", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{[]string{"chaos"}, exitUsage, "", "Usage: keel chaos <tool>"},
	} {
		code, stdout, stderr := runKeel(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
			t.Errorf("keel %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.args, code, stdout, stderr, tc.code, tc.wantStdout, tc.wantStderr)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good, "upstreams:\n  app: {targets: [\"127.0.0.1:3000\"]}\nroutes:\n  - name: app\n    upstream: app\n    timeout: ${T}\n")
	write(bad, "upstreams:\n  app: {targets: [\"127.0.0.1:3000\"], balancr: round_robin}\nroutes:\n  - {name: app, upstream: app, timeout: 5}\n")

	code, stdout, stderr := runKeel(t, map[string]string{"T": "5s"}, "validate", "-c", good)
	if code != exitOK || !strings.Contains(stdout, "valid (1 routes, 1 upstreams)") {
		t.Errorf("valid file: exit %d, %q %q", code, stdout, stderr)
	}
	code, _, stderr = runKeel(t, nil, "validate", "-c", good)
	if code != exitUsage || !strings.Contains(stderr, "good.yaml:6:") || !strings.Contains(stderr, "T") {
		t.Errorf("unset variable: exit %d, %q", code, stderr)
	}
	code, _, stderr = runKeel(t, nil, "validate", "-c", bad)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != exitUsage || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], bad+":2:") || !strings.Contains(lines[0], `balancer`) ||
		!strings.HasPrefix(lines[1], bad+":4:") || !strings.Contains(lines[1], `5s`) {
		t.Errorf("invalid file: exit %d, stderr:\n%s\nwant two lines with file:line: the misspelled key's suggestion and the duration hint", code, stderr)
	}
	code, stdout, _ = runKeel(t, nil, "validate", "-schema")
	if code != exitOK || !strings.Contains(stdout, `"$schema"`) {
		t.Errorf("-schema: exit %d, %.80q", code, stdout)
	}
	// The gateway refuses to start on the same file, with the same errors.
	code, _, stderr = runKeel(t, nil, "gateway", "-c", bad)
	if code != exitUsage || !strings.Contains(stderr, bad+":2:") {
		t.Errorf("gateway with an invalid file: exit %d, %q", code, stderr)
	}
}
