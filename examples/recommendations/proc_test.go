package main

import (
	"os"
	"testing"

	"github.com/keelhq/keel/examples/internal/proctest"
)

// command is the recommendations command, built by TestMain.
var command = proctest.Command{Name: "recommendations"}

func TestMain(m *testing.M) { os.Exit(command.Main(m)) }

// start runs the recommendations command with the extra flags (the last
// -name wins), and waits for its "listening" line.
func start(t *testing.T, flags ...string) *proctest.Proc {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-name", "recommendations-test"}, flags...)
	return command.Start(t, args...)
}
