package keelhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/limit"
)

// callFns are a call's methods as funcs, bound once per pooled call.
type callFns struct {
	plain     func(context.Context) error // one attempt, guarded if there is a guard
	attempt   func(context.Context) error // c.attempt
	hedged    func(context.Context) error // c.hedgedAttempt, guarded if there is a guard
	hedgedRaw func(context.Context) error // c.hedgedAttempt
	hedgeCall func(context.Context) error // c.hedgeCall
}

func (f *callFns) bind(c *call, guarded, hedged bool) {
	f.attempt = c.attempt
	f.plain = f.attempt
	if guarded {
		f.plain = func(ctx context.Context) error { return c.guarded(ctx, c.fns.attempt) }
	}
	if hedged {
		f.hedgedRaw = c.hedgedAttempt
		f.hedgeCall = c.hedgeCall
		f.hedged = f.hedgedRaw
		if guarded {
			f.hedged = func(ctx context.Context) error { return c.guarded(ctx, c.fns.hedgedRaw) }
		}
	}
}

// overload builds the Transport's hedge policy, throttler and limiter from
// cfg. classify is the retry policy's judgement of attempt errors.
func (t *Transport) overload(cfg TransportConfig, classify keel.Classifier) error {
	if cfg.Hedge != nil {
		hc := *cfg.Hedge
		if hc.Name == "" {
			hc.Name = cfg.Name
		}
		if hc.Observer == nil {
			hc.Observer = cfg.Observer
		}
		if hc.Classifier == nil {
			hc.Classifier = classify
		}
		h, err := hedge.New(hc)
		if err != nil {
			return err
		}
		t.hedge = h
	}
	var guard []keel.Policy
	if cfg.Throttle != nil {
		tc := *cfg.Throttle
		if tc.Name == "" {
			tc.Name = cfg.Name
		}
		if tc.Observer == nil {
			tc.Observer = cfg.Observer
		}
		tc.Classifier = attemptOutcome
		th, err := limit.NewThrottler(tc)
		if err != nil {
			return err
		}
		t.throttle = th
		guard = append(guard, th)
	}
	if cfg.Limit != nil {
		lc := *cfg.Limit
		if lc.Name == "" {
			lc.Name = cfg.Name
		}
		if lc.Observer == nil {
			lc.Observer = cfg.Observer
		}
		lc.Classifier = attemptOutcome
		l, err := limit.New(lc)
		if err != nil {
			return err
		}
		t.limiter = l
		guard = append(guard, l)
	}
	if len(guard) > 0 {
		t.guard = keel.Chain(guard...).Wrap(runOp)
	}
	return nil
}

func runOp(ctx context.Context, op func(context.Context) error) error { return op(ctx) }

// Hedge returns the Transport's hedge policy (for its counters), or nil
// without TransportConfig.Hedge.
func (t *Transport) Hedge() *hedge.Policy { return t.hedge }

// Throttler returns the Transport's client-side throttler, or nil without
// TransportConfig.Throttle.
func (t *Transport) Throttler() *limit.Throttler { return t.throttle }

// Limiter returns the Transport's adaptive concurrency limiter, or nil
// without TransportConfig.Limit.
func (t *Transport) Limiter() *limit.Limiter { return t.limiter }

// attemptOutcome judges an attempt for the throttler and the limiter: a
// response that is not a failure is a success (an accept, a latency
// sample); a failed response or a connection error is a failure (a refusal,
// a drop); an attempt that was never sent (an open breaker) or that the
// caller or a winning hedge cut short is neutral.
func attemptOutcome(ctx context.Context, err error) keel.Outcome {
	switch {
	case err == nil:
		return keel.OutcomeSuccess
	case isStatusError(err):
		return keel.OutcomeFailure
	case errors.Is(err, keel.ErrRejected), ctx.Err() != nil:
		return keel.OutcomeNeutral
	}
	return keel.OutcomeFailure
}

func isStatusError(err error) bool {
	_, ok := errors.AsType[*StatusError](err)
	return ok
}

// guarded runs attempt under the throttler and limiter. Their own
// rejections are permanent: an attempt refused locally is not retried.
func (c *call) guarded(ctx context.Context, attempt func(context.Context) error) error {
	err := c.t.guard(ctx, attempt)
	switch err.(type) { //nolint:errorlint // only the guard's own rejections, which it returns unwrapped; a wrapped one came from the base RoundTripper
	case *limit.ThrottledError, *limit.LimitedError:
		return keel.Permanent(err)
	}
	return err
}

// hedgeCall is one attempt of the retry policy for a hedged request: a
// hedged call whose attempts run concurrently.
func (c *call) hedgeCall(ctx context.Context) error {
	if c.resp != nil { // the previous hedged call's response: it is being retried
		c.t.discard(c.resp)
		c.resp = nil
	}
	c.won = false
	c.hbase = ctx
	return c.t.hedge.Do(ctx, c.fns.hedged)
}

// hedgeBody returns the body of a hedged attempt.
func (c *call) hedgeBody() (io.ReadCloser, error) {
	c.mu.Lock()
	switch {
	case c.buf != nil:
		c.mu.Unlock()
		return io.NopCloser(newBytesReader(c.buf)), nil
	case c.body == nil:
		c.mu.Unlock()
		return c.req.Body, nil // nil or http.NoBody
	case !c.bodyUsed:
		c.bodyUsed = true
		c.mu.Unlock()
		return c.body, nil
	}
	c.mu.Unlock()
	if c.req.GetBody != nil {
		return c.req.GetBody()
	}
	return nil, errors.New("keelhttp: request body cannot be sent again")
}

// hedgedAttempt is one attempt of a hedged call; several run at once. Its
// request is sent with a context of its own, derived from the retry
// attempt's context rather than from ctx (which the hedge policy ends when
// the call is decided), so that the winner's response body stays readable;
// that context ends when ctx ends before the attempt has won, or when the
// response body is closed.
func (c *call) hedgedAttempt(ctx context.Context) error {
	t := c.t
	permit, err := c.allow()
	if err != nil {
		return err
	}
	body, err := c.hedgeBody()
	if err != nil {
		permit.Done(keel.OutcomeNeutral)
		return keel.Permanent(err)
	}
	sctx, cancel := context.WithCancel(c.hbase)
	stop := context.AfterFunc(ctx, cancel)
	handed := false // the response body owns cancel
	defer func() {
		if !handed {
			stop()
			cancel()
		}
	}()
	resp, retryable, actx, err := c.exchange(sctx, ctx, body, permit)
	if err != nil {
		return err
	}
	if !stop() { // ctx ended first: another attempt won, or the caller left
		t.discard(resp)
		if actx != nil {
			actx.Cancel()
		}
		return context.Cause(ctx)
	}
	if !retryable {
		resp = own(resp, actx) //nolint:bodyclose // stored for the caller, who closes it
		handed = c.keep(resp, cancel, true)
		return nil
	}
	se := &StatusError{Response: resp, StatusCode: resp.StatusCode}
	se.After, se.HasRetryAfter = RetryAfterOf(resp, time.Now())
	t.readAhead(resp, actx)
	handed = c.keep(resp, cancel, false)
	return se
}

// keep stores the response of a hedged attempt as the call's response,
// unless an attempt already won (then it discards resp). It first ties
// cancel to resp's body, so that closing the body, by the caller or by a
// discard, ends the attempt's context; it reports whether it did, and if
// not the caller ends the context itself.
func (c *call) keep(resp *http.Response, cancel context.CancelFunc, success bool) bool {
	tied := true
	switch b := resp.Body.(type) {
	case *ownedBody:
		b.cancel = cancel
	case *prefixBody:
		b.cancel = cancel
	default:
		if wrappable(resp) {
			resp.Body = &ownedBody{rc: resp.Body, cancel: cancel}
		} else {
			tied = false
		}
	}
	c.mu.Lock()
	if c.won {
		c.mu.Unlock()
		c.t.discard(resp)
		return tied
	}
	old := c.resp
	c.resp = resp
	c.won = success
	c.mu.Unlock()
	if old != nil {
		c.t.discard(old)
	}
	return tied
}
