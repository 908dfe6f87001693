package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// Paths of the binaries under test, built by TestMain.
var keelBin, backendBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "keel-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	keelBin = filepath.Join(dir, "keel")
	backendBin = filepath.Join(dir, "testbackend")
	for _, b := range []struct{ out, pkg string }{
		{keelBin, "github.com/keelhq/keel/cmd/keel"},
		{backendBin, "github.com/keelhq/keel/gateway/internal/testbackend"},
	} {
		args := []string{"build", "-o", b.out}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build %s: %v\n", b.pkg, err)
			return 1
		}
	}
	stopSpawner := startSpawner()
	code := m.Run()
	stopSpawner()
	if code == 0 {
		if err := goleak.Find(
			// Keep-alive connections of the tests' clients close a moment
			// after the test that used them.
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: leaked goroutines: %v\n", err)
			code = 1
		}
	}
	return code
}
