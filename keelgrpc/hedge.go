package keelgrpc

import (
	"context"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/breaker"
)

// hedges reports whether calls of method are hedged.
func (c *Client) hedges(method string) bool {
	if _, ok := c.hedgeMethods[method]; ok {
		return true
	}
	return c.hedgeIf != nil && c.hedgeIf(method)
}

// hedgedCall is the state of one hedged unary call. Its attempts run
// concurrently, each with a reply message of its own; the first that
// succeeds is copied into the caller's reply.
type hedgedCall struct {
	c       *Client
	method  string
	req     any
	reply   proto.Message
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	br      *breaker.Breaker

	mu  sync.Mutex
	won bool // an attempt's reply was copied into reply
}

// hedged runs a unary call as retry(hedge(breaker(bulkhead(timeout(call))))).
// It allocates, as hedging does anyway.
func (c *Client) hedged(ctx context.Context, method string, req any, reply proto.Message, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	h := &hedgedCall{c: c, method: method, req: req, reply: reply, cc: cc, invoker: invoker,
		opts: slices.Clip(opts), br: c.breakerFor(cc, method)}
	call := func(ctx context.Context) error { return c.hedge.Do(ctx, h.attempt) }
	var err error
	if c.retry != nil {
		err = c.retry.Do(ctx, call)
	} else {
		err = call(ctx)
	}
	if err != nil {
		return clientError(err)
	}
	return nil
}

// attempt is one attempt of the hedged call.
func (h *hedgedCall) attempt(ctx context.Context) error {
	reply := h.reply.ProtoReflect().New().Interface()
	var trailer metadata.MD
	opts := h.opts
	if h.c.retry != nil {
		opts = append(opts, grpc.Trailer(&trailer)) // opts is clipped: this copies
	}
	invoke := func(ctx context.Context) error {
		err := h.invoker(ctx, h.method, h.req, reply, h.cc, opts...)
		if err != nil {
			if h.c.retry != nil {
				err = withPushback(err, trailer)
			}
			return err
		}
		h.mu.Lock()
		if !h.won {
			h.won = true
			proto.Reset(h.reply)
			proto.Merge(h.reply, reply)
		}
		h.mu.Unlock()
		return nil
	}
	if h.br != nil {
		return h.br.Do(ctx, func(ctx context.Context) error { return h.c.inner(ctx, invoke) })
	}
	return h.c.inner(ctx, invoke)
}
