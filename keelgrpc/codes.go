package keelgrpc

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/timeout"
)

// PushbackKey is the trailer in which a server tells clients when to retry
// (gRPC proposal A6): a non-negative decimal number of milliseconds, or a
// negative or malformed value meaning "do not retry".
const PushbackKey = "grpc-retry-pushback-ms"

// CodeOf returns the gRPC status code for err. It is the one place where
// Keel's errors are mapped to gRPC codes; the server interceptors use it for
// the errors they return and the client interceptors for the rejections they
// return.
//
//   - nil: OK;
//   - a *retry.ExhaustedError: the code of its last attempt's error, or
//     Canceled / DeadlineExceeded when the caller's context ended;
//   - breaker.ErrOpen (open, forced open, half-open full): Unavailable;
//   - ratelimit.ErrLimited: ResourceExhausted;
//   - bulkhead.ErrFull (full, or waited MaxWait): Unavailable;
//   - timeout.ErrExceeded: DeadlineExceeded;
//   - an error carrying a gRPC status (status.FromError finds it): its code;
//   - context.Canceled: Canceled; context.DeadlineExceeded: DeadlineExceeded;
//   - any other keel.ErrRejected: Unavailable;
//   - anything else: Unknown.
//
// The rules are tried in this order, so a bulkhead rejection caused by the
// caller's context (which wraps the context's error) is Canceled or
// DeadlineExceeded, not Unavailable. CodeOf does not allocate for the errors
// of Keel's policies.
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if ex, ok := errors.AsType[*retry.ExhaustedError](err); ok {
		if ex.Reason == keel.ReasonContext {
			return contextCode(ex)
		}
		if last := ex.Last(); last != nil {
			err = last
		}
	}
	switch {
	case errors.Is(err, breaker.ErrOpen):
		return codes.Unavailable
	case errors.Is(err, ratelimit.ErrLimited):
		return codes.ResourceExhausted
	case errors.Is(err, bulkhead.ErrFull):
		return codes.Unavailable
	case errors.Is(err, timeout.ErrExceeded):
		return codes.DeadlineExceeded
	}
	if c, ok := statusCode(err); ok {
		return c
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, keel.ErrRejected):
		return codes.Unavailable
	}
	return codes.Unknown
}

func contextCode(err error) codes.Code {
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	return codes.Canceled
}

// grpcStatus is implemented by errors that carry a gRPC status.
type grpcStatus interface {
	error
	GRPCStatus() *status.Status
}

// statusCode returns the code of the gRPC status err carries, if any.
func statusCode(err error) (codes.Code, bool) {
	gs, ok := errors.AsType[grpcStatus](err)
	if !ok {
		return codes.Unknown, false
	}
	s := gs.GRPCStatus()
	if s == nil {
		return codes.Unknown, false
	}
	return s.Code(), true
}

// hasStatus reports whether err carries a gRPC status.
func hasStatus(err error) bool {
	_, ok := statusCode(err)
	return ok
}

// statusError gives an error without a gRPC status (a Keel rejection) the
// status CodeOf chooses, while still unwrapping to it: status.Code(err) works
// and so do errors.Is(err, breaker.ErrOpen) and keel.RetryAfter(err).
type statusError struct {
	err  error
	code codes.Code
}

func (e *statusError) Error() string              { return e.err.Error() }
func (e *statusError) Unwrap() error              { return e.err }
func (e *statusError) GRPCStatus() *status.Status { return status.New(e.code, e.err.Error()) }

// toStatus returns err unchanged if it is nil or carries a gRPC status, and
// otherwise err with the status CodeOf gives it.
func toStatus(err error) error {
	if err == nil || hasStatus(err) {
		return err
	}
	return &statusError{err: err, code: CodeOf(err)}
}

// ParsePushback interprets one value of the grpc-retry-pushback-ms trailer
// as gRPC proposal A6 does: a non-negative decimal integer is a delay in
// milliseconds (ok is true; values beyond what a time.Duration holds are
// capped at the largest one), anything else — negative, empty, not a number —
// means the server asks not to be retried (ok is false).
func ParsePushback(v string) (d time.Duration, ok bool) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if ne, isNum := errors.AsType[*strconv.NumError](err); isNum && errors.Is(ne.Err, strconv.ErrRange) && len(v) > 0 && v[0] != '-' {
			return time.Duration(math.MaxInt64), true
		}
		return 0, false
	}
	if ms < 0 {
		return 0, false
	}
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// FormatPushback formats d as a grpc-retry-pushback-ms value: whole
// milliseconds, rounded up, at least 1 for a positive d, and "0" for zero or
// a negative d.
func FormatPushback(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return strconv.FormatInt(int64(ms), 10)
}

// withPushback attaches the pushback of trailer md to the status error err: a
// valid value becomes a keel retry-after hint, an invalid one (or more than
// one value) marks err permanent, so retries stop. err is returned unchanged
// when md has no pushback.
func withPushback(err error, md metadata.MD) error {
	vs := md[PushbackKey]
	switch len(vs) {
	case 0:
		return err
	case 1:
		if d, ok := ParsePushback(vs[0]); ok {
			return keel.WithRetryAfter(err, d)
		}
	}
	return keel.Permanent(err)
}
