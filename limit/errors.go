package limit

import (
	"errors"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// ErrLimited is matched (through errors.Is) by the error of every call a
// [Limiter] refused because its concurrency limit was reached: no queue, a
// full queue, or MaxWait spent in the queue.
var ErrLimited = errors.New("limit: concurrency limit reached")

// ErrThrottled is matched by the error of every call a [Throttler] rejected
// locally.
var ErrThrottled = errors.New("limit: throttled")

// LimitedError is the error of a call that a Limiter did not let run. It
// matches keel.ErrRejected; with ReasonLimit or ReasonQueueTimeout it also
// matches ErrLimited; with ReasonContext it wraps the context's error.
type LimitedError struct {
	// Name is the limiter's Config.Name.
	Name string
	// Reason is keel.ReasonLimit (limit reached and no room in the queue),
	// keel.ReasonQueueTimeout (waited MaxWait) or keel.ReasonContext (the
	// caller's context ended while it waited).
	Reason keel.Reason
	// Limit and InFlight are the limiter's limit and held permits when the
	// call was refused.
	Limit, InFlight int
	// Waited is how long the call waited in the queue.
	Waited time.Duration
	// Err is the context's error for ReasonContext, nil otherwise.
	Err error
}

// Error describes the rejection.
func (e *LimitedError) Error() string {
	s := "limit"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	switch e.Reason {
	case keel.ReasonQueueTimeout:
		return s + ": concurrency limit reached: no permit within " + e.Waited.String()
	case keel.ReasonContext:
		msg := s + ": gave up waiting after " + e.Waited.String()
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
		return msg
	}
	return s + ": concurrency limit reached (" + strconv.Itoa(e.InFlight) + " in flight, limit " + strconv.Itoa(e.Limit) + ")"
}

// Is reports whether target is keel.ErrRejected, or ErrLimited for a
// rejection caused by the limiter rather than by the caller's context.
func (e *LimitedError) Is(target error) bool {
	switch target {
	case keel.ErrRejected:
		return true
	case ErrLimited:
		return e.Reason == keel.ReasonLimit || e.Reason == keel.ReasonQueueTimeout
	}
	return false
}

// Unwrap returns Err.
func (e *LimitedError) Unwrap() error { return e.Err }

// ThrottledError is the error of a call a Throttler rejected locally. It
// matches ErrThrottled and keel.ErrRejected.
type ThrottledError struct {
	// Name is the throttler's ThrottlerConfig.Name.
	Name string
	// Probability is the rejection probability when the call was refused.
	Probability float64
}

// Error describes the rejection.
func (e *ThrottledError) Error() string {
	s := "limit"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	return s + ": throttled (rejection probability " + strconv.FormatFloat(e.Probability, 'f', 3, 64) + ")"
}

// Is reports whether target is ErrThrottled or keel.ErrRejected.
func (e *ThrottledError) Is(target error) bool {
	return target == ErrThrottled || target == keel.ErrRejected
}
