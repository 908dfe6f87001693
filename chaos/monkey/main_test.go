package monkey

import (
	"os"
	"os/signal"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv makes the test binary act as a replica: it blocks until it is
// killed, or exits 0 after an hour.
const childEnv = "KEEL_MONKEY_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// Default signal dispositions: SIGTERM and SIGKILL end the process.
		signal.Reset()
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
