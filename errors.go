package keel

import (
	"errors"
	"sync/atomic"
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
//
// err may carry several operations that are still running, as a retry's
// error does when more than one of its attempts was abandoned (an error whose
// Unwrap returns []error). release then runs once, after the last of them has
// exited. A StillRunning error is trusted with what it wraps: the search does
// not look inside it.
func AfterExit(err error, release func()) bool {
	if err == nil {
		return false
	}
	var buf [4]StillRunning
	srs := appendStillRunning(buf[:0], err)
	switch len(srs) {
	case 0:
		return false
	case 1:
		srs[0].AfterExit(release)
		return true
	}
	var left atomic.Int64
	left.Store(int64(len(srs)))
	done := func() {
		if left.Add(-1) == 0 {
			release()
		}
	}
	for _, sr := range srs {
		sr.AfterExit(done)
	}
	return true
}

// appendStillRunning appends to out the outermost StillRunning error on each
// branch of err's tree.
func appendStillRunning(out []StillRunning, err error) []StillRunning {
	for err != nil {
		if sr, ok := err.(StillRunning); ok { //nolint:errorlint // walks the tree itself
			return append(out, sr)
		}
		switch u := err.(type) { //nolint:errorlint // walks the tree itself
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				out = appendStillRunning(out, e)
			}
			return out
		default:
			return out
		}
	}
	return out
}
