package bulkhead

import (
	"errors"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// ErrFull is matched (through errors.Is) by the error of every call the
// bulkhead refused because no permit came free: the queue was full, or the
// call waited MaxWait in vain.
var ErrFull = errors.New("bulkhead: full")

// RejectedError is the error of a call that the bulkhead did not let run.
// It matches keel.ErrRejected; with ReasonBulkheadFull or ReasonQueueTimeout it
// also matches ErrFull; with ReasonContext it wraps the context's error, so
// errors.Is(err, context.Canceled) and keel.DefaultClassifier see it.
type RejectedError struct {
	// Name is the bulkhead's Config.Name.
	Name string
	// Reason is keel.ReasonBulkheadFull (every permit taken and the queue
	// full, or no queue), keel.ReasonQueueTimeout (waited MaxWait) or
	// keel.ReasonContext (the caller's context ended while it waited).
	Reason keel.Reason
	// Waited is how long the call waited in the queue.
	Waited time.Duration
	// Err is the context's error for ReasonContext, nil otherwise.
	Err error
}

// Error describes the rejection.
func (e *RejectedError) Error() string {
	s := "bulkhead"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	switch e.Reason {
	case keel.ReasonQueueTimeout:
		return s + ": full: no permit within " + e.Waited.String()
	case keel.ReasonContext:
		msg := s + ": gave up waiting after " + e.Waited.String()
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
		return msg
	}
	return s + ": full"
}

// Is reports whether target is keel.ErrRejected, or ErrFull for a rejection
// caused by the bulkhead itself rather than by the caller's context.
func (e *RejectedError) Is(target error) bool {
	switch target {
	case keel.ErrRejected:
		return true
	case ErrFull:
		return e.Reason == keel.ReasonBulkheadFull || e.Reason == keel.ReasonQueueTimeout
	}
	return false
}

// Unwrap returns Err.
func (e *RejectedError) Unwrap() error { return e.Err }
