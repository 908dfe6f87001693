package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// noEnv is a getenv that knows no variable.
func noEnv(string) string { return "" }

// TestInvalidGolden parses each testdata/invalid/*.yaml and compares the
// error text with the .golden file next to it.
// Regenerate with: go test ./gateway/config -run TestInvalidGolden -update
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(file)
			c, err := Parse(name, data, noEnv)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, nil; want an error", name, c)
			}
			for _, e := range Errors(err) {
				if e.File != name || (e.Line <= 0 && e.Key == "") {
					t.Errorf("error %q: File = %q, Line = %d, Key = %q; want File %q and a line or a key", e, e.File, e.Line, e.Key, name)
				}
			}
			if len(Errors(err)) == 0 {
				t.Errorf("Parse error %v holds no *Error", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil { //nolint:gosec // a testdata path from filepath.Glob, written only with -update
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./gateway/config -run TestInvalidGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("error text mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExamplesParse loads every example configuration.
func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob("../../examples/gateway/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("example files: %v, %v", files, err)
	}
	env := func(k string) string {
		if k == "ADMIN_TOKEN" {
			return "s3cret"
		}
		return ""
	}
	for _, f := range files {
		c, err := Load(f, env)
		if err != nil {
			t.Errorf("Load(%s): %v", f, err)
			continue
		}
		if len(c.Routes) == 0 || len(c.Upstreams) == 0 {
			t.Errorf("Load(%s): %d routes, %d upstreams; want some of each", f, len(c.Routes), len(c.Upstreams))
		}
	}
}

// TestExampleUnsetToken: the full example refuses to start without its
// admin token.
func TestExampleUnsetToken(t *testing.T) {
	_, err := Load("../../examples/gateway/keel.yaml", noEnv)
	var e *Error
	if !errors.As(err, &e) || e.Key != "admin.token" || !strings.Contains(e.Msg, "ADMIN_TOKEN") {
		t.Fatalf("Load without ADMIN_TOKEN: got %v, want an error on admin.token naming ADMIN_TOKEN", err)
	}
}
