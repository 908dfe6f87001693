package telemetry

import (
	"testing"

	"github.com/keelhq/keel"
)

// Every event kind and reason keel knows has a precomputed name, and none
// is "unknown".
func TestNamesCoverEveryKindAndReason(t *testing.T) {
	n := 0
	for k := keel.EventKind(1); k.String() != "unknown"; k++ {
		n++
		if got, want := spanEventName(k), "keel."+k.String(); int(k) >= len(spanEventNames) || got != want {
			t.Errorf("span event name of %d: got %q (table of %d), want %q", k, got, len(spanEventNames), want)
		}
		if got, want := logMessage(k), "keel: "+k.String(); int(k) >= len(logMessages) || got != want {
			t.Errorf("log message of %d: got %q (table of %d), want %q", k, got, len(logMessages), want)
		}
	}
	if n < int(keel.EventLeaseLost) {
		t.Errorf("named kinds: got %d, want at least %d", n, keel.EventLeaseLost)
	}
	for r := keel.ReasonNone; r.String() != "unknown"; r++ {
		if int(r) >= numReasons-1 {
			t.Errorf("reason %q (%d) has no attribute set of its own: numReasons is %d", r, r, numReasons)
		}
	}
}
