package e2e

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/validate/*.golden with keel validate's output")

// TestValidateGolden is acceptance item g: keel validate, run as a
// process, prints every error of an invalid file on standard error exactly
// as testdata/validate/<name>.golden holds it, one per line with file, line,
// column and key, and exits 2; a valid file gets one line on standard output
// and exit 0.
func TestValidateGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/validate/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("testdata/validate: %v %v", files, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(keelBin, "validate", "-c", file) // a relative path, so the output does not depend on the checkout
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}      // and no variable the file could expand
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}

			if name == "valid" {
				want := file + ": valid (2 routes, 1 upstreams)\n"
				if code != 0 || stdout.String() != want || stderr.Len() != 0 {
					t.Errorf("keel validate %s: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", file, code, stdout.String(), stderr.String(), want)
				}
				return
			}
			if code != 2 || stdout.Len() != 0 {
				t.Errorf("keel validate %s: exit %d, stdout %q; want exit 2 and nothing on stdout", file, code, stdout.String())
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, stderr.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), stderr.String()); diff != "" {
				t.Errorf("keel validate %s: stderr (-%s +got):\n%s", file, golden, diff)
			}
		})
	}
}
