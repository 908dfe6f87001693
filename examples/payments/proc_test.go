package main

import (
	"net/http"
	"os"
	"testing"

	"github.com/keelhq/keel/examples/internal/proctest"
)

// command is the payments command, built by TestMain.
var command = proctest.Command{Name: "payments"}

func TestMain(m *testing.M) { os.Exit(command.Main(m)) }

// proc is a running payments process.
type proc struct {
	*proctest.Proc
	dir string // its data directory
}

// start runs the payments command on data directory dir with the extra
// flags, and waits for its "listening" line.
func start(t *testing.T, dir string, flags ...string) *proc {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-name", "payments-test", "-data", dir}, flags...)
	return &proc{Proc: command.Start(t, args...), dir: dir}
}

// charge posts a charge with the idempotency key key.
func (p *proc) charge(key, body string) (proctest.Response, error) {
	return p.Do(http.MethodPost, "/charges", map[string]string{"Idempotency-Key": key, "Content-Type": "application/json"}, body)
}
