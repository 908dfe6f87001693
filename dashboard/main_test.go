package dashboard

import (
	"testing"

	"go.uber.org/goleak"
)

// Every stream ends with its request, and the browser test stops Chromium:
// no goroutine may outlive a test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
