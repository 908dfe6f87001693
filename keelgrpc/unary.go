package keelgrpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/breaker"
)

// UnaryClientInterceptor returns the interceptor that runs each unary call
// through the client's policies: retry(breaker(bulkhead(timeout(call)))).
//
// Every attempt is the same call with the same request message and call
// options, under the caller's context (or a per-attempt one with a sooner
// deadline: gRPC sends the earliest deadline to the server). When retries
// are configured the interceptor reads the response trailer of every attempt
// for grpc-retry-pushback-ms: a valid value is the least delay before the
// next attempt, a negative or malformed one stops the retries.
//
// The returned error is the call's own status error when the call ran once,
// a *retry.ExhaustedError wrapping every attempt's error when retries ran
// out (status.Code and status.FromError see the last attempt's status through
// it), and, for a call a policy rejected, an error with the status of
// CodeOf (Unavailable for an open breaker or a full bulkhead) that still
// matches the policy's sentinel with errors.Is.
//
// A call that succeeds allocates nothing beyond what gRPC allocates (with
// ScopeMethod, one key string per call).
func (c *Client) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return c.unary
}

// unaryCall is the state of one unary call, pooled so that its bound method
// values (the operations handed to the policies) are made once.
type unaryCall struct {
	c       *Client
	method  string
	req     any
	reply   any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	br      *breaker.Breaker

	trailer    metadata.MD
	trailerOpt grpc.CallOption

	attemptFn func(context.Context) error // attempt, bound once
	guardedFn func(context.Context) error // guarded, bound once
	invokeFn  func(context.Context) error // invoke, bound once
}

func newUnaryCall(c *Client) *unaryCall {
	u := &unaryCall{c: c}
	u.trailerOpt = grpc.Trailer(&u.trailer)
	u.attemptFn = u.attempt
	u.guardedFn = u.guarded
	u.invokeFn = u.invoke
	return u
}

func (c *Client) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	ctx = outgoingCriticality(ctx)
	if c.passthrough {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	if c.hedge != nil && c.hedges(method) {
		if m, ok := reply.(proto.Message); ok {
			return c.hedged(ctx, method, req, m, cc, invoker, opts)
		}
	}
	u := c.calls.Get().(*unaryCall)
	u.method, u.req, u.reply, u.cc, u.invoker = method, req, reply, cc, invoker
	u.br = c.breakerFor(cc, method)
	if c.retry != nil {
		// Ask for the trailer of every attempt, for its pushback.
		u.opts = append(append(u.opts[:0], opts...), u.trailerOpt)
	} else {
		u.opts = opts
	}
	var err error
	if c.retry != nil {
		err = c.retry.Do(ctx, u.attemptFn)
	} else {
		err = u.attempt(ctx)
	}
	// Not reached on a panic: the call is then left to the garbage collector.
	u.release()
	if err != nil {
		return clientError(err)
	}
	return nil
}

// release clears the call's references and returns it to the pool.
func (u *unaryCall) release() {
	c := u.c
	if c.retry != nil {
		clear(u.opts) // our own copy
		u.opts = u.opts[:0]
	} else {
		u.opts = nil // the caller's slice
	}
	u.method, u.req, u.reply, u.cc, u.invoker, u.br, u.trailer = "", nil, nil, nil, nil, nil, nil
	c.calls.Put(u)
}

// attempt runs one attempt: breaker(bulkhead(timeout(invoke))).
func (u *unaryCall) attempt(ctx context.Context) error {
	if u.br != nil {
		return u.br.Do(ctx, u.guardedFn)
	}
	return u.c.inner(ctx, u.invokeFn)
}

// guarded runs bulkhead(timeout(invoke)).
func (u *unaryCall) guarded(ctx context.Context) error { return u.c.inner(ctx, u.invokeFn) }

// invoke makes the call once.
func (u *unaryCall) invoke(ctx context.Context) error {
	u.trailer = nil
	err := u.invoker(ctx, u.method, u.req, u.reply, u.cc, u.opts...)
	if err != nil && u.c.retry != nil {
		err = withPushback(err, u.trailer)
	}
	return err
}
