package keelhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/retry"
)

// Defaults applied to zero fields of a [TransportConfig].
const (
	// DefaultMaxBufferedBody is how much of a request body without GetBody
	// the Transport buffers to be able to send it again: 1 MiB.
	DefaultMaxBufferedBody = 1 << 20
	// DefaultDrainLimit is how much of a discarded response body the
	// Transport reads before closing it, so that the connection can be
	// reused: 64 KiB.
	DefaultDrainLimit = 64 << 10
)

// DefaultRetryStatuses are the response status codes a Transport retries
// when TransportConfig.RetryStatuses is nil: 429 Too Many Requests, 502 Bad
// Gateway, 503 Service Unavailable and 504 Gateway Timeout. NewTransport
// copies it; changing it affects only Transports built afterwards.
var DefaultRetryStatuses = []int{
	http.StatusTooManyRequests,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// TransportConfig configures a [Transport]. The zero TransportConfig is
// useful: http.DefaultTransport underneath, up to 3 attempts with retry's
// default backoff and budget, retries of idempotent requests only, on
// connection failures and on 429, 502, 503 and 504; a circuit breaker per
// host with breaker's defaults; request bodies buffered up to 1 MiB for
// replay; the remaining deadline sent in the Keel-Deadline-Ms header.
type TransportConfig struct {
	// Name identifies the transport: it is the default Name of the retry
	// policy and of the breaker group. Optional.
	Name string

	// Base sends each attempt. Nil means http.DefaultTransport.
	Base http.RoundTripper

	// Retry configures the retry policy of every request. Its zero value is
	// retry's default (3 attempts, exponential backoff with full jitter,
	// Retry-After honored up to 30s, a retry budget). Set Retry.MaxAttempts
	// to 1 to turn retries off.
	//
	// Retry.AttemptTimeout and Retry.MaxDuration are applied by the
	// Transport, not by the retry policy: their contexts must last until the
	// response body is closed, whereas the retry policy ends an attempt's
	// context when the attempt returns, which is before the caller reads the
	// body. AttemptTimeout bounds each attempt from the moment it is sent
	// until its response body is closed (or the Transport discards it);
	// MaxDuration bounds the whole request, retries, waits and the reading
	// of the final body included. Both are sent downstream in the
	// DeadlineHeader.
	//
	// Retry.Classifier, if set, judges attempt errors (connection errors
	// and *StatusError values) for the retry policy; an attempt the
	// Transport knows is unsafe to repeat is never retried whatever it says.
	// Retry.Observer defaults to Observer and Retry.Name to Name.
	Retry retry.Config

	// RetryStatuses lists the response status codes that make an attempt a
	// retryable failure. Nil means DefaultRetryStatuses; an empty non-nil
	// slice retries no status (connection failures are still retried). Each
	// must be in [100, 599].
	RetryStatuses []int

	// Breaker configures the group of circuit breakers, one per URL host
	// (host:port as written in the URL). Each attempt asks the host's
	// breaker first; an open breaker fails the request at once with its
	// *breaker.OpenError (or, if an earlier attempt got a response, returns
	// that response). Breaker.Breaker.Name defaults to Name and
	// Breaker.Breaker.Observer to Observer. Breaker.Breaker.Classifier must
	// be nil: the Transport reports each attempt's outcome itself (see
	// Transport).
	Breaker breaker.GroupConfig

	// DisableBreaker turns the per-host circuit breakers off.
	DisableBreaker bool

	// MaxBufferedBody is the largest request body, in bytes, that the
	// Transport buffers in memory so that it can send it again, for requests
	// whose GetBody is nil (http.NewRequest sets GetBody for *bytes.Buffer,
	// *bytes.Reader and *strings.Reader bodies, which are never buffered).
	// A longer body is sent once, unbuffered, and the request is not
	// retried. Zero means DefaultMaxBufferedBody (1 MiB); negative means
	// never buffer. No body is buffered when Retry.MaxAttempts is 1.
	MaxBufferedBody int64

	// DrainLimit is how many bytes of a discarded response body (one that
	// is followed by a retry) the Transport reads, so that its connection
	// can be reused. A longer body's connection is closed instead. Zero
	// means DefaultDrainLimit (64 KiB); negative means never read, only
	// close.
	DrainLimit int64

	// IdempotencyKeys makes the Transport give every POST and PATCH request
	// without an Idempotency-Key header a new key (NewIdempotencyKey), the
	// same for every attempt of that request, so that it may be retried
	// like an idempotent one. The server must honor the header.
	IdempotencyKeys bool

	// NoDeadlineHeader turns off the DeadlineHeader: by default every
	// attempt whose context has a deadline carries the milliseconds left.
	NoDeadlineHeader bool

	// OwnHeader gives the Transport the request's Header: each attempt
	// sets its headers (DeadlineHeader, the idempotency key, criticality,
	// Inject's) in it rather than in a copy, saving a copy of the headers
	// per attempt. The caller must not use the Header concurrently with
	// RoundTrip, and finds it modified after. Ignored with Hedge, whose
	// attempts run at the same time. A proxy that builds the upstream
	// request for the Transport alone sets it.
	OwnHeader bool

	// Inject, if set, is called for every attempt with the request's
	// context and the attempt's own copy of the headers, which it may
	// modify: the place to propagate trace context (W3C traceparent) or
	// baggage. It must be safe for concurrent use.
	Inject func(ctx context.Context, h http.Header)

	// Hedge, if set, sends backup attempts ("hedges") of slow requests: when
	// an attempt has not answered after Hedge.Delay (or the adaptive
	// percentile delay), another one is sent, and the first success wins;
	// the others are canceled and their responses discarded. Only requests
	// that may be repeated are hedged: idempotent methods and requests with
	// an Idempotency-Key (every hedge carries the same key), whose body can
	// be sent again. Hedging runs inside the retry policy: each retry is a
	// hedged call. Hedge.Name defaults to Name, Hedge.Observer to Observer,
	// and a nil Hedge.Classifier to the retry policy's judgement of attempt
	// errors. Nil means no hedging.
	Hedge *hedge.Config

	// Throttle, if set, throttles every attempt on the client side (see
	// limit.Throttler): an attempt is refused locally with the probability
	// max(0, (requests − K·accepts)/(requests + 1)), where accepts are
	// attempts that got a response whose status is not in RetryStatuses. A
	// refused attempt is not sent and not retried: RoundTrip returns its
	// *limit.ThrottledError (or the previous attempt's response, if there
	// was one). Throttle.Name defaults to Name and Throttle.Observer to
	// Observer; Throttle.Classifier must be nil (the Transport judges
	// attempts itself). Nil means no throttling.
	Throttle *limit.ThrottlerConfig

	// Limit, if set, bounds the attempts in flight with an adaptive
	// concurrency limit (see limit.Limiter), inside Throttle. Each attempt
	// holds a permit from the moment it is sent until its response headers
	// arrive (or it fails); that time is the limiter's round-trip sample,
	// and a connection error or a response whose status is in
	// RetryStatuses is a drop. An attempt refused by the limiter is not
	// sent and not retried: RoundTrip returns its *limit.LimitedError (or
	// the previous attempt's response). Limit.Name defaults to Name and
	// Limit.Observer to Observer; Limit.Classifier must be nil. Nil means
	// no limit.
	Limit *limit.Config

	// Observer receives the events of the retry policy, of the breakers
	// and of Hedge, Throttle and Limit, unless their own Observer is set.
	// Nil means none are built.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, or nil.
func (c TransportConfig) Validate() error {
	if err := c.Retry.Validate(); err != nil {
		return fmt.Errorf("keelhttp: TransportConfig.Retry: %w", err)
	}
	if !c.DisableBreaker {
		if c.Breaker.Breaker.Classifier != nil {
			return errors.New("keelhttp: TransportConfig.Breaker.Breaker.Classifier must be nil: the Transport reports outcomes itself")
		}
		if err := c.Breaker.Validate(); err != nil {
			return fmt.Errorf("keelhttp: TransportConfig.Breaker: %w", err)
		}
	}
	if c.Hedge != nil {
		if err := c.Hedge.Validate(); err != nil {
			return fmt.Errorf("keelhttp: TransportConfig.Hedge: %w", err)
		}
	}
	if c.Throttle != nil {
		if c.Throttle.Classifier != nil {
			return errors.New("keelhttp: TransportConfig.Throttle.Classifier must be nil: the Transport judges attempts itself")
		}
		if err := c.Throttle.Validate(); err != nil {
			return fmt.Errorf("keelhttp: TransportConfig.Throttle: %w", err)
		}
	}
	if c.Limit != nil {
		if c.Limit.Classifier != nil {
			return errors.New("keelhttp: TransportConfig.Limit.Classifier must be nil: the Transport judges attempts itself")
		}
		if err := c.Limit.Validate(); err != nil {
			return fmt.Errorf("keelhttp: TransportConfig.Limit: %w", err)
		}
	}
	for i, s := range c.RetryStatuses {
		if s < 100 || s > 599 {
			return fmt.Errorf("keelhttp: TransportConfig.RetryStatuses[%d] is %d, not a status code in [100, 599]", i, s)
		}
	}
	return nil
}

// MiddlewareConfig configures a [Middleware]. The zero MiddlewareConfig
// recovers panics and honors the DeadlineHeader up to DefaultMaxDeadline; it
// logs nothing and admits every request.
type MiddlewareConfig struct {
	// Name identifies the middleware in log lines ("server" attribute).
	// Optional.
	Name string

	// Admission, if set, guards every request: the handler runs as the
	// operation of Admission.Wrap. A request that the policy rejects without
	// running the handler (a full bulkhead, a rate limit, an open breaker,
	// a shed) is answered by WriteError: 503 or 429 with Retry-After when
	// the rejection carries a hint. The operation returns nil whatever the
	// handler wrote; a panic in the handler passes through the policy (which
	// releases its permits) to the middleware's recovery.
	Admission keel.Policy

	// MaxDeadline bounds the deadline a request may ask for with the
	// DeadlineHeader: the request's context gets the sooner of now + the
	// header's milliseconds and now + MaxDeadline. Zero means
	// DefaultMaxDeadline (60s); negative means the header is ignored.
	MaxDeadline time.Duration

	// Logger, if set, receives one access-log line per request at the end
	// of it (message "http request", level Info, Error for 5xx), with the
	// attributes method, path, status, bytes, duration, flag ("-" for none)
	// and, when TraceID returns one, trace_id. The request's context is
	// passed to the handler, so a handler that adds trace attributes from
	// the context sees the server span. A panic is logged in a second line
	// (message "http handler panic", level Error) with the value and stack.
	Logger *slog.Logger

	// TraceID, if set, returns the trace ID of the request's context for the
	// access log ("" for none).
	TraceID func(ctx context.Context) string

	// Start, if set, is called first for every request. It returns the
	// context the rest of the request runs in (for example one carrying a
	// server span extracted from the traceparent header) and a function that
	// the middleware calls once, when the request is done, with what
	// happened. A nil context keeps the request's own; a nil end function
	// is not called. Start must be safe for concurrent use.
	Start func(r *http.Request) (context.Context, func(RequestInfo))
}

// Validate reports the first invalid field of c, or nil. Every
// MiddlewareConfig is valid today.
func (c MiddlewareConfig) Validate() error { return nil }
