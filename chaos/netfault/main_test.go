package netfault_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// serveEnv makes the test binary an HTTP server on the address it holds,
// answering "pong from <address>", until it is killed.
const serveEnv = "KEEL_NETFAULT_TEST_SERVE"

func TestMain(m *testing.M) {
	if addr := os.Getenv(serveEnv); addr != "" {
		err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { //nolint:gosec // a test server
			_, _ = fmt.Fprintf(w, "pong from %s", addr)
		}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}
