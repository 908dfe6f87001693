package keelhttp

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// ErrPanic is what a handler that panicked is reported as: [StatusOf] maps it
// to 500 with flag FlagPanic, and [RequestInfo].Err holds it.
var ErrPanic = errors.New("keelhttp: handler panicked")

// ErrNoTimeLeft is the error of a request that arrived with a
// [DeadlineHeader] of zero milliseconds: the caller has no time left for an
// answer, so the middleware answers 504 without running the handler.
var ErrNoTimeLeft = errors.New("keelhttp: request arrived with no time left")

// StatusError is the error an attempt returns when the server answered with a
// status code the Transport retries (by default 429, 502, 503 and 504). It
// carries the response, so that neither the response nor its Retry-After
// header is lost: retry policies read the hint through RetryAfter, and when
// the retries run out the Transport returns Response itself to its caller.
//
// The Transport reads the body of such a response (up to
// TransportConfig.DrainLimit bytes) as soon as it arrives, so that the
// connection goes back to the pool before the retry's backoff; Response.Body
// then reads those bytes (and the unread rest, if the body was longer).
//
// A StatusError is owned by the Transport while it retries; callers see one
// only inside the error of a request the Transport gave up on without a
// response to return (for example when the next attempt was refused by an
// open breaker), and never need to close its body: the Transport does.
type StatusError struct {
	// Response is the response of the attempt.
	Response *http.Response
	// StatusCode is Response.StatusCode.
	StatusCode int
	// After is the wait the response's Retry-After header asked for, measured
	// from the response's Date header when it has one. It is zero when
	// HasRetryAfter is false.
	After time.Duration
	// HasRetryAfter reports whether the response carried a valid Retry-After
	// header.
	HasRetryAfter bool
}

// Error returns "keelhttp: server answered 503 Service Unavailable", with the
// Retry-After wait when there was one.
func (e *StatusError) Error() string {
	s := "keelhttp: server answered " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.HasRetryAfter {
		s += ", retry after " + e.After.String()
	}
	return s
}

// RetryAfter returns After: a retry policy does not try again sooner. It is
// zero when the response carried no Retry-After header, which never shortens
// a backoff.
func (e *StatusError) RetryAfter() time.Duration { return e.After }
