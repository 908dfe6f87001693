package keel

import (
	"errors"
	"time"
)

// ErrRejected matches every error with which a policy refused to run an
// operation at all: an open circuit, a full bulkhead, an exhausted rate limit or
// retry budget. Typed rejection errors of the policy packages match it through
// errors.Is as well as their own sentinel.
var ErrRejected = errors.New("keel: rejected")

// RetryAfterError is implemented by errors that know when the operation may be
// tried again: an open breaker's remaining open time, a rate limiter's wait, an
// HTTP 429/503 response's Retry-After header.
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

// RetryAfter returns the retry hint carried by err or by any error it wraps,
// and whether there was one. Retry policies honor it: they never retry sooner.
func RetryAfter(err error) (time.Duration, bool) {
	if ra, ok := errors.AsType[RetryAfterError](err); ok {
		return ra.RetryAfter(), true
	}
	return 0, false
}

// WithRetryAfter returns err with a retry hint of d attached; it returns nil
// for a nil err. The result unwraps to err.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, after: d}
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string             { return e.err.Error() }
func (e *retryAfterError) Unwrap() error             { return e.err }
func (e *retryAfterError) RetryAfter() time.Duration { return e.after }

// StillRunning is implemented by errors returned while the operation goes on in
// the background: a timeout in return-on-time mode gives up waiting for a
// function that ignores its context. AfterExit registers f to run once that
// function really returns (at once if it already has).
type StillRunning interface {
	error
	AfterExit(f func())
}

// AfterExit arranges for release to run when the operation behind err has
// really exited, and reports whether err was such an error. A policy holding a
// resource for the call (a bulkhead permit, a concurrency-limit slot) uses it so
// that the resource stays held while abandoned work still runs:
//
//	err := next(ctx, op)
//	if !keel.AfterExit(err, release) {
//		release()
//	}
func AfterExit(err error, release func()) bool {
	if err == nil {
		return false
	}
	if sr, ok := errors.AsType[StillRunning](err); ok {
		sr.AfterExit(release)
		return true
	}
	return false
}
