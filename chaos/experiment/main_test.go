package experiment

import (
	"os"
	"os/signal"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv makes the test binary act as a service: it serves nothing and
// blocks until it is signaled, or exits 0 after a minute.
const childEnv = "KEEL_EXPERIMENT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		signal.Reset()
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
