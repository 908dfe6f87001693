package keelhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/internal/deadline"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/retry"
)

// DeadlineHeader is the request header that carries the time the caller has
// left, in whole milliseconds, rounded down. The Transport sets it on every
// attempt whose context has a deadline; the Middleware turns it back into the
// request context's deadline. Like Envoy's x-envoy-expected-rq-timeout-ms, it
// is a duration, not a point in time, so clock differences between hosts do
// not matter (the time on the wire counts against the server, on its side).
const DeadlineHeader = "Keel-Deadline-Ms"

// Transport is an http.RoundTripper that sends each request through a retry
// policy and a circuit breaker per host, and retries only what is safe to
// retry. Build one with [NewTransport] and use it as an http.Client's
// Transport. It is safe for concurrent use; the zero Transport is not usable.
//
// # Which requests are retried
//
// An attempt fails when it ends in a connection error or a response whose
// status is in RetryStatuses (429, 502, 503, 504 by default). A failed
// attempt is retried (within the retry policy's attempts, backoff, deadline
// and budget) only if repeating the request is safe:
//
//   - the method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), or
//     the request carries a non-empty Idempotency-Key header (set by the
//     caller, or by the Transport when IdempotencyKeys is on); or
//   - the request provably never left: the attempt failed while dialing
//     (its error wraps a *net.OpError with Op "dial": DNS failure,
//     connection refused, dial timeout, no route), so no connection existed
//     and no byte of it was written. An error once a connection exists —
//     reset, EOF, TLS handshake failure, a timeout while writing or waiting
//     — counts as possibly sent, and a POST is not retried after it.
//     (net/http's own Transport also resends, by itself, requests that
//     found a reused connection closed before it wrote anything.)
//
// and its body can be sent again: it has none, it has GetBody, or it was
// buffered (see MaxBufferedBody).
//
// # Responses
//
// The caller always gets the last response when there is one. A response
// that is not a failure is returned at once with its body untouched. A
// failed response that will be retried has its body read (up to DrainLimit)
// and closed at once, so its connection returns to the pool during the
// backoff, and is discarded when the next attempt is sent. When the retries
// run out — attempts, deadline, budget, a Retry-After longer than
// MaxRetryAfter, or an open breaker on the next attempt — the last failed
// response is returned with a nil error and its full body, so the caller
// sees the 503 and why. An error is returned only when the last attempt got
// no response, or when the caller's own context ended while the Transport
// waited to retry. The caller must close the body of the returned response,
// as with any RoundTripper; every other body the Transport closes itself.
//
// # Retry-After
//
// The Retry-After header of a failed response (seconds or an HTTP-date,
// measured from the response's Date header) is carried by its *StatusError,
// and the retry policy waits at least that long, or gives up when it exceeds
// Retry.MaxRetryAfter (30s by default) rather than retry early.
//
// # Breakers
//
// Each attempt is reported to its host's breaker: a connection error or a
// response with status 500 or above or in RetryStatuses is a failure, any
// other response a success, and an attempt cut short by the caller's own
// context counts for nothing.
type Transport struct {
	base           http.RoundTripper
	retry          *retry.Policy
	breakers       *breaker.Group
	retryStatus    [10]uint64 // bit s set: status s is retried (s < 640)
	attemptTimeout time.Duration
	totalTimeout   time.Duration
	maxBuffer      int64
	drainLimit     int64
	canRetry       bool // MaxAttempts > 1
	keys           bool
	deadlineHeader bool
	ownHeader      bool // set in the request's Header (no Hedge)
	inject         func(context.Context, http.Header)
	calls          sync.Pool

	hedge    *hedge.Policy    // nil: no hedging
	throttle *limit.Throttler // nil: no throttling
	limiter  *limit.Limiter   // nil: no adaptive limit
	guard    keel.Handler     // throttle and limiter around an attempt, or nil
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns a Transport configured by cfg, or the error of
// cfg.Validate.
func NewTransport(cfg TransportConfig) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Transport{
		base:           cfg.Base,
		attemptTimeout: cfg.Retry.AttemptTimeout,
		totalTimeout:   cfg.Retry.MaxDuration,
		maxBuffer:      cfg.MaxBufferedBody,
		drainLimit:     cfg.DrainLimit,
		canRetry:       cfg.Retry.MaxAttempts != 1,
		keys:           cfg.IdempotencyKeys,
		deadlineHeader: !cfg.NoDeadlineHeader,
		ownHeader:      cfg.OwnHeader && cfg.Hedge == nil,
		inject:         cfg.Inject,
	}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	if t.maxBuffer == 0 {
		t.maxBuffer = DefaultMaxBufferedBody
	}
	if t.drainLimit == 0 {
		t.drainLimit = DefaultDrainLimit
	}
	statuses := cfg.RetryStatuses
	if statuses == nil {
		statuses = DefaultRetryStatuses
	}
	for _, s := range statuses {
		t.retryStatus[s/64] |= 1 << (s % 64)
	}

	rc := cfg.Retry
	rc.AttemptTimeout, rc.MaxDuration = 0, 0 // applied by the Transport
	if rc.Name == "" {
		rc.Name = cfg.Name
	}
	if rc.Observer == nil {
		rc.Observer = cfg.Observer
	}
	user := rc.Classifier
	rc.Classifier = func(ctx context.Context, err error) keel.Outcome {
		if keel.IsPermanent(err) {
			return keel.OutcomePermanent
		}
		return user.Classify(ctx, err)
	}
	rp, err := retry.New(rc)
	if err != nil {
		return nil, err
	}
	t.retry = rp

	if !cfg.DisableBreaker {
		gc := cfg.Breaker
		if gc.Breaker.Name == "" {
			gc.Breaker.Name = cfg.Name
		}
		if gc.Breaker.Observer == nil {
			gc.Breaker.Observer = cfg.Observer
		}
		g, err := breaker.NewGroup(gc)
		if err != nil {
			return nil, err
		}
		t.breakers = g
	}
	if err := t.overload(cfg, rc.Classifier); err != nil {
		return nil, err
	}
	t.calls.New = func() any {
		c := new(call)
		c.fns.bind(c, t.guard != nil, t.hedge != nil)
		return c
	}
	return t, nil
}

// MustNewTransport is like [NewTransport] but panics if cfg is invalid.
func MustNewTransport(cfg TransportConfig) *Transport {
	t, err := NewTransport(cfg)
	if err != nil {
		panic(err)
	}
	return t
}

// Breakers returns the Transport's per-host breaker group, or nil when
// breakers are disabled. Use it to inspect (Get(host).State()) or reset a
// host's breaker.
func (t *Transport) Breakers() *breaker.Group { return t.breakers }

// CloseIdleConnections closes the idle connections of the base RoundTripper,
// if it has such a method (http.Client.CloseIdleConnections calls this).
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// RoundTrip sends req, retrying as described on [Transport], and returns the
// last response, or an error when there is none. It does not modify req:
// attempts that need other headers, another context or a replayed body are
// sent as copies. Like every RoundTripper it closes req.Body, also on error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.calls.Get().(*call)
	resp, err := c.run(t, req)
	*c = call{fns: c.fns}
	t.calls.Put(c)
	return resp, err
}

func (t *Transport) retries(status int) bool {
	return status >= 0 && status < 640 && t.retryStatus[status/64]&(1<<(status%64)) != 0
}

// call is the state of one RoundTrip. Calls are pooled; fns are its methods,
// bound once when the call is made so that running them allocates nothing.
type call struct {
	fns        callFns
	t          *Transport
	req        *http.Request
	br         *breaker.Breaker
	n          int    // attempts started
	safe       bool   // the request may be repeated after it was sent
	replayable bool   // its body can be sent again
	buf        []byte // the buffered body, when it was buffered
	body       io.ReadCloser
	bodyUsed   bool // req.Body (or body) was handed to an attempt
	key        string
	resp       *http.Response // the last attempt's response, owned by the call

	// Hedged calls only: mu guards resp, body, bodyUsed and won while
	// attempts run concurrently.
	mu    sync.Mutex
	won   bool            // an attempt of the current hedged call succeeded
	hbase context.Context // the context hedged attempts send with
}

func (c *call) run(t *Transport, req *http.Request) (*http.Response, error) {
	c.t, c.req = t, req
	if req.URL == nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errors.New("keelhttp: nil Request.URL")
	}
	if t.breakers != nil {
		host := req.URL.Host
		if host == "" {
			host = req.Host
		}
		c.br = t.breakers.Get(host)
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		c.safe = true
	default:
		if req.Header.Get(IdempotencyKeyHeader) != "" {
			c.safe = true
		} else if t.keys && (req.Method == http.MethodPost || req.Method == http.MethodPatch) {
			c.key = NewIdempotencyKey()
			c.safe = true
		}
	}
	if err := c.prepareBody(); err != nil {
		return nil, err
	}

	ctx := req.Context()
	var total *deadline.Context
	if t.totalTimeout > 0 {
		total = deadline.New(ctx, time.Now().Add(t.totalTimeout))
		ctx = total
	}
	fn := c.fns.plain
	if t.hedge != nil && c.safe && c.replayable && req.Header.Get("Upgrade") == "" {
		fn = c.fns.hedgeCall
	}
	err := t.retry.Do(ctx, fn)
	if !c.bodyUsed && c.body != nil {
		_ = c.body.Close()
	}
	resp := c.resp
	if resp != nil && (err == nil || req.Context().Err() == nil) {
		if total != nil {
			attachTotal(resp, total)
		}
		return resp, nil
	}
	if resp != nil {
		t.discard(resp)
	}
	if total != nil {
		total.Cancel()
	}
	if err != nil && keel.IsPermanent(err) {
		if inner := errors.Unwrap(err); inner != nil { // drop keel.Permanent's marker
			err = inner
		}
	}
	return nil, err
}

// prepareBody decides how the request's body is sent again: through
// GetBody, from a buffer, or not at all.
func (c *call) prepareBody() error {
	req, t := c.req, c.t
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		c.replayable = true
		return nil
	case req.GetBody != nil:
		c.replayable = true
		c.body = req.Body
		return nil
	case !t.canRetry || t.maxBuffer < 0:
		c.body = req.Body
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(req.Body, t.maxBuffer+1))
	if err != nil {
		_ = req.Body.Close()
		return err
	}
	if int64(len(data)) <= t.maxBuffer {
		_ = req.Body.Close()
		c.buf = data
		c.replayable = true
		return nil
	}
	c.body = &prefixBody{prefix: data, rest: req.Body}
	return nil
}

// nextBody returns the body for the next attempt.
func (c *call) nextBody() (io.ReadCloser, error) {
	switch {
	case c.buf != nil:
		return io.NopCloser(newBytesReader(c.buf)), nil
	case c.body == nil:
		return c.req.Body, nil // nil or http.NoBody
	case !c.bodyUsed:
		c.bodyUsed = true
		return c.body, nil
	case c.req.GetBody != nil:
		return c.req.GetBody()
	}
	return nil, errors.New("keelhttp: request body cannot be sent again")
}

// attempt is one attempt, run by the retry policy.
func (c *call) attempt(ctx context.Context) error {
	t := c.t
	c.n++
	if c.n > 1 && !c.replayable {
		return keel.Permanent(errors.New("keelhttp: request body cannot be sent again"))
	}
	permit, err := c.allow()
	if err != nil {
		return err
	}
	body, err := c.nextBody()
	if err != nil {
		permit.Done(keel.OutcomeNeutral)
		return keel.Permanent(err)
	}
	if c.resp != nil { // the previous attempt's response: it is being retried
		t.discard(c.resp)
		c.resp = nil
	}
	resp, retryable, actx, err := c.exchange(ctx, c.req.Context(), body, permit)
	if err != nil {
		if !c.replayable || (!c.safe && !isDialError(err)) {
			return keel.Permanent(err)
		}
		return err
	}
	if !retryable {
		c.resp = own(resp, actx) //nolint:bodyclose // returned to the caller, who closes it
		return nil
	}
	se := &StatusError{Response: resp, StatusCode: resp.StatusCode}
	se.After, se.HasRetryAfter = RetryAfterOf(resp, time.Now())
	if !c.safe || !c.replayable {
		c.resp = own(resp, actx) //nolint:bodyclose // returned to the caller, who closes it
		return keel.Permanent(se)
	}
	t.readAhead(resp, actx)
	c.resp = resp
	return se
}

// allow takes the host breaker's permit for one attempt (the zero Permit
// when the Transport has no breakers). An open breaker ends the call: trying
// the same host again cannot help.
func (c *call) allow() (breaker.Permit, error) {
	if c.br == nil {
		return breaker.Permit{}, nil
	}
	p, err := c.br.Allow()
	if err != nil {
		return p, keel.Permanent(err)
	}
	return p, nil
}

// exchange sends one attempt with body under permit and the attempt timeout,
// and reports the outcome to the breaker: neutral when caller (the context of
// whoever waits for the answer) has ended, a failure for a transport error, a
// retryable status or a 5xx, else a success. It returns the response, whether
// its status is retryable, and the attempt's deadline context (nil without an
// attempt timeout), which the response's body must end; on an error that
// context is already ended.
func (c *call) exchange(ctx, caller context.Context, body io.ReadCloser, permit breaker.Permit) (*http.Response, bool, *deadline.Context, error) {
	t := c.t
	var actx *deadline.Context
	if t.attemptTimeout > 0 {
		actx = deadline.New(ctx, time.Now().Add(t.attemptTimeout))
		ctx = actx
	}
	resp, err := c.send(ctx, body, permit, actx)
	if err != nil {
		if actx != nil {
			actx.Cancel()
		}
		if caller.Err() != nil {
			permit.Done(keel.OutcomeNeutral)
		} else {
			permit.Done(keel.OutcomeFailure)
		}
		return nil, false, nil, err
	}
	retryable := t.retries(resp.StatusCode)
	if retryable || resp.StatusCode >= 500 {
		permit.Done(keel.OutcomeFailure)
	} else {
		permit.Done(keel.OutcomeSuccess)
	}
	return resp, retryable, actx, nil
}

// send sends one attempt through the base RoundTripper. If that panics, the
// attempt counts as a failure for the breaker, its context is ended, and the
// panic continues.
func (c *call) send(ctx context.Context, body io.ReadCloser, permit breaker.Permit, actx *deadline.Context) (*http.Response, error) {
	returned := false
	defer func() {
		if !returned {
			permit.Done(keel.OutcomeFailure)
			if actx != nil {
				actx.Cancel()
			}
		}
	}()
	resp, err := c.t.base.RoundTrip(c.request(ctx, body))
	returned = true
	return resp, err
}

// request returns the request for one attempt: req itself when nothing
// differs, else a shallow copy with the attempt's context, body and headers.
func (c *call) request(ctx context.Context, body io.ReadCloser) *http.Request {
	req, t := c.req, c.t
	dl, hasDeadline := ctx.Deadline()
	setDeadline := hasDeadline && t.deadlineHeader
	crit := criticalityValue(ctx)
	if crit != "" && req.Header.Get(CriticalityHeader) != "" {
		crit = "" // the caller's own header wins
	}
	headers := setDeadline || c.key != "" || t.inject != nil || crit != ""
	if ctx == req.Context() && !headers && body == req.Body {
		return req
	}
	r := req.WithContext(ctx)
	r.Body = body
	if c.buf != nil {
		r.ContentLength = int64(len(c.buf))
	}
	if headers {
		h := req.Header
		if !t.ownHeader || h == nil {
			h = h.Clone()
		}
		if h == nil {
			h = make(http.Header, 2)
		}
		if setDeadline {
			ms := max(time.Until(dl).Milliseconds(), 0)
			h[DeadlineHeader] = []string{strconv.FormatInt(ms, 10)}
		}
		if c.key != "" {
			h[IdempotencyKeyHeader] = []string{c.key}
		}
		if crit != "" {
			h[CriticalityHeader] = []string{crit}
		}
		if t.inject != nil {
			t.inject(ctx, h)
		}
		r.Header = h
	}
	return r
}

// discard drains (up to DrainLimit) and closes resp's body.
func (t *Transport) discard(resp *http.Response) {
	if resp.Body == nil {
		return
	}
	if t.drainLimit > 0 {
		_, _ = io.CopyN(io.Discard, resp.Body, t.drainLimit)
	}
	_ = resp.Body.Close()
}
