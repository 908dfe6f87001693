package breaker

import (
	"errors"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// ErrOpen is matched (through errors.Is) by every error with which a breaker
// rejects a call: open, forced open, or half-open with every probe permit
// taken.
var ErrOpen = errors.New("breaker: circuit open")

// OpenError is the error a Breaker rejects a call with. It matches ErrOpen and
// keel.ErrRejected through errors.Is, and implements keel.RetryAfterError.
// Rejection errors are shared between callers and must not be modified.
type OpenError struct {
	// State is the state that rejected the call: Open, ForcedOpen or
	// HalfOpen (every probe permit taken).
	State State
	// Remaining is how long the breaker stays open, rounded up to the
	// millisecond. It is zero when the end is not known: in ForcedOpen (which
	// lasts until changed by hand) and in HalfOpen.
	Remaining time.Duration
	// Name is the breaker's configured name.
	Name string
}

// Error describes the rejection, for example
// `breaker "payments": circuit open, retry in 1.5s`.
func (e *OpenError) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "breaker"...)
	if e.Name != "" {
		b = append(b, ' ')
		b = strconv.AppendQuote(b, e.Name)
	}
	switch e.State {
	case HalfOpen:
		b = append(b, ": circuit half-open, all probe permits taken"...)
	case ForcedOpen:
		b = append(b, ": circuit forced open"...)
	default:
		b = append(b, ": circuit open"...)
	}
	if e.Remaining > 0 {
		b = append(b, ", retry in "...)
		b = append(b, e.Remaining.String()...)
	}
	return string(b)
}

// Is reports whether target is ErrOpen or keel.ErrRejected.
func (e *OpenError) Is(target error) bool {
	return target == ErrOpen || target == keel.ErrRejected
}

// RetryAfter returns Remaining: a retry policy should not try again sooner.
func (e *OpenError) RetryAfter() time.Duration { return e.Remaining }

var _ keel.RetryAfterError = (*OpenError)(nil)
