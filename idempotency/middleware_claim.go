package idempotency

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNotStorable is returned by [Claim.Response] when the handler's response
// cannot be stored: it was flushed, or grew over Config.MaxResponseBytes, so
// part of it has already gone to the client.
var ErrNotStorable = errors.New("idempotency: response not storable")

// Claim is the claim a protected request holds on its (scope, key) while
// the handler runs. A handler gets it with [ClaimFromContext] and uses it to
// complete the record itself, in the same database transaction as its
// business write, so that the two commit or roll back together:
//
//	claim, ok := idempotency.ClaimFromContext(r.Context())
//	// write the response to w (the middleware buffers it), then:
//	resp, err := claim.Response()
//	err = store.WithTx(tx).Complete(ctx, claim.Scope(), claim.Key(), claim.Token(),
//		time.Now(), resp, claim.Retention())
//	err = tx.Commit(ctx)
//	claim.MarkCompleted() // only once the commit succeeded
//
// The zero Claim is not usable (ClaimFromContext's false result). Like the
// http.ResponseWriter it goes with, a Claim must be used only by the
// handler's goroutine and only until the handler returns; it is not safe for
// concurrent use.
type Claim struct{ c *claimState }

// claimState is the per-execution state behind a Claim; it is also the
// context the handler's request carries, so that exposing the claim costs one
// allocation.
type claimState struct {
	context.Context

	m                 *Middleware
	scope, key, token string
	rec               *recorder // nil once the handler returned

	snapped   bool // Response was called
	snapCode  int
	snapLen   int
	completed bool // MarkCompleted was called
}

type claimKey struct{}

// Value returns the claim for claimKey and defers to the parent otherwise.
func (c *claimState) Value(key any) any {
	if key == (claimKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// ClaimFromContext returns the claim of the request whose context ctx is (or
// derives from), and whether there is one. There is one only inside a handler
// the middleware runs under a claim: not for a replay, a rejection, a request
// without a key or a method the middleware does not protect, nor when the
// store failed and Config.FailOpen let the request through.
func ClaimFromContext(ctx context.Context) (Claim, bool) {
	c, ok := ctx.Value(claimKey{}).(*claimState)
	if !ok || c.rec == nil {
		return Claim{}, false
	}
	return Claim{c}, true
}

// Scope returns the client scope of the request ("" when the middleware is
// Unscoped).
func (c Claim) Scope() string { return c.c.scope }

// Key returns the request's idempotency key.
func (c Claim) Key() string { return c.c.key }

// Token returns the owner token of the claim: Store.Complete accepts it only
// while the claim still owns the record.
func (c Claim) Token() string { return c.c.token }

// Retention returns how long a completed record is kept (Config.Retention),
// the retention to pass to Store.Complete.
func (c Claim) Retention() time.Duration { return c.c.m.retention }

// Response returns the response the handler has written so far, exactly as
// the middleware would store it: the status (200 if none was written), the
// replayed headers (Config.ReplayHeaders) and the body. Write the whole
// response before calling it. The Body aliases the middleware's buffer: it
// is valid until the handler writes again or returns (every Store copies
// it). It fails with [ErrNotStorable] when the response was flushed or is
// over Config.MaxResponseBytes.
func (c Claim) Response() (Response, error) {
	rw := c.c.rec
	if rw == nil {
		return Response{}, errors.New("idempotency: Claim.Response called after the handler returned")
	}
	if rw.spilled {
		return Response{}, ErrNotStorable
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	h := make(http.Header, len(c.c.m.replayHeaders))
	for _, name := range c.c.m.replayHeaders {
		if v, ok := rw.header[name]; ok {
			h[name] = v
		}
	}
	body := rw.body.Bytes()
	c.c.snapped, c.c.snapCode, c.c.snapLen = true, status, len(body)
	return Response{Status: status, Header: h, Body: body[:len(body):len(body)]}, nil
}

// ResetResponse discards the response the handler has written so far
// (status, headers and body), so that it can write another one: for example
// an error, after the transaction that was to complete the record with the
// first one rolled back. It fails with [ErrNotStorable] when the response was
// flushed or is over Config.MaxResponseBytes (part of it has gone to the
// client), and after the handler returned.
func (c Claim) ResetResponse() error {
	rw := c.c.rec
	switch {
	case rw == nil:
		return errors.New("idempotency: Claim.ResetResponse called after the handler returned")
	case rw.spilled:
		return ErrNotStorable
	}
	rw.reset(rw.w, rw.max)
	c.c.snapped = false
	return nil
}

// MarkCompleted tells the middleware that the handler completed the record
// itself, with the response [Claim.Response] last returned, and that the
// completion has committed. The middleware then neither completes nor
// releases the record, and sends the client that same response (status and
// body as Response returned them; anything written after that call is not
// sent), so that the client and every replay see the same bytes. Call it
// only after the transaction that completed the record committed; if it
// rolled back, do not call it: write the response the client should get
// instead (after [Claim.ResetResponse]), and the middleware stores or releases
// it as Config.Persistence says. MarkCompleted without an
// earlier Response marks the response written so far.
func (c Claim) MarkCompleted() {
	if c.c.rec == nil {
		return
	}
	if !c.c.snapped {
		if _, err := c.Response(); err != nil {
			return
		}
	}
	c.c.completed = true
}

// newClaim returns the claim state of one execution.
func (m *Middleware) newClaim(ctx context.Context, scope, key, token string, rec *recorder) *claimState {
	return &claimState{Context: ctx, m: m, scope: scope, key: key, token: token, rec: rec}
}
