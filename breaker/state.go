package breaker

// State is a breaker's state.
type State uint8

const (
	// Closed means calls run and their outcomes are counted in the window; the
	// breaker opens when a rate threshold is reached.
	Closed State = iota
	// Open means calls are rejected with an *OpenError until the open duration
	// has passed.
	Open
	// HalfOpen means up to HalfOpenPermits probe calls run at once; enough
	// successes close the breaker, one failure reopens it.
	HalfOpen
	// Disabled means every call runs; nothing is counted, no call event is
	// emitted and the breaker never changes state on its own.
	Disabled
	// ForcedOpen means every call is rejected until Reset, Disable or MetricsOnly
	// is called.
	ForcedOpen
	// MetricsOnly means every call runs and is counted, and call events are
	// emitted, but the breaker never changes state on its own.
	MetricsOnly
)

var stateNames = [...]string{
	Closed:      "closed",
	Open:        "open",
	HalfOpen:    "half_open",
	Disabled:    "disabled",
	ForcedOpen:  "forced_open",
	MetricsOnly: "metrics_only",
}

// String returns "closed", "open", "half_open", "disabled", "forced_open" or
// "metrics_only", the values of keel.Event.From and To.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}
