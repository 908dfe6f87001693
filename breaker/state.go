package breaker

import (
	"context"
	"time"

	"github.com/keelhq/keel/internal/window"
)

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

// State returns the current state. An open breaker whose open duration has
// passed is half-open even if no call has arrived since: State moves it there
// and emits the EventStateChange, with context.Background(). Likewise a
// half-open breaker past HalfOpenMaxWait is open again.
func (b *Breaker) State() State {
	st := State(b.word.Load() & stateMask)
	if st != Open && (st != HalfOpen || b.cfg.HalfOpenMaxWait == 0) {
		return st
	}
	return b.stateAt(b.now())
}

// StateAt is State at time now; see [Breaker.AllowAt].
func (b *Breaker) StateAt(now time.Time) State { return b.stateAt(now.UnixNano()) }

func (b *Breaker) stateAt(now int64) State {
	st := State(b.word.Load() & stateMask)
	if !b.expired(st, now) {
		return st
	}
	b.mu.Lock()
	tr := b.expireLocked(now)
	st = State(b.word.Load() & stateMask)
	b.mu.Unlock()
	b.emitTransition(context.Background(), tr)
	return st
}

// peekState returns the stored state without evaluating time or emitting.
func (b *Breaker) peekState() State { return State(b.word.Load() & stateMask) }

// Metrics is a snapshot of a breaker.
type Metrics struct {
	State State
	// Calls, Failures and SlowCalls are the totals in the closed-state
	// window. The window is kept while the breaker is open or half-open (it
	// shows why it opened) and emptied when the breaker closes again or its
	// state is set by hand. Half-open probes are not counted in it.
	Calls, Failures, SlowCalls int
	// FailureRate and SlowCallRate are Failures and SlowCalls as a percentage
	// of Calls; zero when Calls is zero.
	FailureRate, SlowCallRate float64
	// Probes is the number of half-open probes in flight.
	Probes int
	// Remaining is how long an open breaker stays open; zero in other states.
	Remaining time.Duration
}

// Metrics returns a snapshot at the current time. Like State, it moves an
// expired open breaker to half-open.
func (b *Breaker) Metrics() Metrics { return b.metricsAt(b.now()) }

// MetricsAt is Metrics at time now; see [Breaker.AllowAt].
func (b *Breaker) MetricsAt(now time.Time) Metrics { return b.metricsAt(now.UnixNano()) }

func (b *Breaker) metricsAt(now int64) Metrics {
	b.mu.Lock()
	tr := b.expireLocked(now)
	var c window.Counts
	if b.tw != nil {
		c = b.tw.Counts(now)
	} else {
		c = b.count.Counts()
	}
	m := Metrics{
		State:     State(b.word.Load() & stateMask),
		Calls:     c.Calls,
		Failures:  c.Failures,
		SlowCalls: c.Slow,
		Probes:    b.probes,
	}
	if m.State == Open {
		m.Remaining = time.Duration(max(0, b.openUntil.Load()-now))
	}
	b.mu.Unlock()
	b.emitTransition(context.Background(), tr)
	if m.Calls > 0 {
		m.FailureRate = 100 * float64(m.Failures) / float64(m.Calls)
		m.SlowCallRate = 100 * float64(m.SlowCalls) / float64(m.Calls)
	}
	return m
}

// ForceOpen moves the breaker to ForcedOpen: every call is rejected until
// Reset, Disable or MetricsOnly is called.
func (b *Breaker) ForceOpen() { b.setByHand(ForcedOpen) }

// Disable moves the breaker to Disabled: every call runs, nothing is counted
// and no call events are emitted, until Reset, ForceOpen or MetricsOnly is
// called.
func (b *Breaker) Disable() { b.setByHand(Disabled) }

// MetricsOnly moves the breaker to MetricsOnly: every call runs and is
// counted in the window (see Metrics), call events are emitted, but the
// breaker never opens, until Reset, ForceOpen or Disable is called.
func (b *Breaker) MetricsOnly() { b.setByHand(MetricsOnly) }

// Reset moves the breaker to Closed with an empty window and forgets
// consecutive openings.
func (b *Breaker) Reset() { b.setByHand(Closed) }

// setByHand moves to state to, empties the window and starts a new
// generation, so outcomes of calls admitted before are ignored. Moving to
// the current state emits no event.
func (b *Breaker) setByHand(to State) {
	now := b.now()
	b.mu.Lock()
	tr := b.setLocked(to, now)
	b.clearLocked()
	b.mu.Unlock()
	b.emitTransition(context.Background(), tr)
}
