package keelgrpc

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
)

// StreamClientInterceptor returns the interceptor that runs each stream
// through the client's policies.
//
// Bulkhead: the stream takes one permit when it starts and holds it, across
// retries, until it ends; the permit is returned exactly once, when the
// first of these happens: RecvMsg returns an error (io.EOF included) or,
// for a stream whose server sends one message, returns that message;
// SendMsg or Header returns an error other than io.EOF; the caller's context
// ends. As with gRPC's own resources, a caller that does none of these (it
// neither reads the stream to its end nor cancels the context) keeps the
// permit.
//
// Breaker: each attempt asks the breaker when it starts, and its outcome is
// recorded when it ends: io.EOF (or the single response of a client-streaming
// call) is a success, an error is judged by the breaker's classifier, and the
// caller's cancellation is not counted.
//
// Retry: a stream is retried only until it is committed, like gRPC's
// transparent retries: once the caller has received a response message, or
// has read non-empty response headers with Header, an error is returned as is.
// Until then the stream keeps the messages sent (at most
// ClientConfig.StreamReplayLimit; sending more commits it) and whether
// CloseSend was called, and a failure seen by RecvMsg, or by the start of the
// stream, is judged by the retry policy: if it retries, a new stream is
// opened after the delay, the messages are sent again in order, CloseSend is
// repeated, and the caller's RecvMsg is answered from the new stream. While a
// retry is pending, SendMsg on the failed stream returns nil: the message is
// kept for the new stream. ClientConfig.Timeout does not apply to streams;
// the caller's deadline bounds the whole stream. The retry budget is asked
// only when a stream fails before it is committed, so it counts such streams,
// not every stream, as requests: stream retries are rationed more tightly
// than unary ones. The first attempt's duration in EventAttempt is not
// measured (it is zero).
//
// The messages given to SendMsg are kept, not copied, until the stream is
// committed; gRPC already forbids changing a message after SendMsg.
func (c *Client) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return c.stream
}

func (c *Client) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx = outgoingCriticality(ctx)
	if c.retry == nil && c.breakers == nil && c.bulkhead == nil {
		return streamer(ctx, desc, cc, method, opts...)
	}
	s := &clientStream{
		c: c, ctx: ctx, desc: desc, cc: cc, method: method, streamer: streamer, opts: opts,
		br:        c.breakerFor(cc, method),
		committed: c.retry == nil || c.replayLimit < 0,
	}
	if err := s.open(); err != nil {
		if s.committed {
			s.finish(err)
			return nil, clientError(err)
		}
		if _, err = s.recover(err, nil); err != nil {
			s.finish(err)
			return nil, clientError(err)
		}
	}
	s.mu.Lock()
	if !s.ended {
		s.stopWatch = context.AfterFunc(ctx, s.canceled)
	}
	s.mu.Unlock()
	return s, nil
}

// clientStream is one logical stream: a series of attempts, of which cur is
// the latest.
type clientStream struct {
	c        *Client
	ctx      context.Context // the caller's
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption
	br       *breaker.Breaker

	mu         sync.Mutex
	cur        grpc.ClientStream
	cancelCur  context.CancelFunc // ends cur's context
	permit     breaker.Permit     // the current attempt's
	permitLive bool               // permit not yet reported
	bh         bulkhead.Permit
	acquired   bool  // the bulkhead permit was taken (it is held until finish)
	committed  bool  // no more retries
	sent       []any // messages to replay, until committed
	closeSent  bool
	ended      bool
	stopWatch  func() bool
}

var _ grpc.ClientStream = (*clientStream)(nil)

// open starts an attempt: it asks the breaker, takes the bulkhead permit on
// the first attempt, opens a stream under a context of its own and replays
// what was sent so far. It returns errStop, without opening anything, when
// the stream has ended or was committed meanwhile (its replay buffer
// dropped), so that no replay can be incomplete.
func (s *clientStream) open() error {
	if s.stopped() {
		return errStop
	}
	var p breaker.Permit
	if s.br != nil {
		var err error
		if p, err = s.br.Allow(); err != nil {
			return err
		}
	}
	if s.c.bulkhead != nil && !s.acquired {
		hp, err := s.c.bulkhead.Acquire(s.ctx)
		if err != nil {
			p.Done(keel.OutcomeNeutral)
			return err
		}
		s.mu.Lock()
		s.bh, s.acquired = hp, true
		s.mu.Unlock()
	}
	actx, cancel := context.WithCancel(s.ctx)
	ns, err := s.streamer(actx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		cancel()
		p.Done(s.outcome(err))
		return err
	}
	err = s.install(ns, cancel, p)
	switch {
	case errors.Is(err, errStop):
		cancel()
		p.Done(keel.OutcomeNeutral)
	case err != nil:
		cancel()
		p.Done(s.outcome(err))
	}
	return err
}

// install replays what was sent on the new stream ns and makes it the
// current attempt, canceling the previous one's context.
func (s *clientStream) install(ns grpc.ClientStream, cancel context.CancelFunc, p breaker.Permit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.committed && s.cur != nil {
		return errStop
	}
	for _, m := range s.sent {
		if err := ns.SendMsg(m); err != nil {
			if errors.Is(err, io.EOF) {
				break // the new stream failed too; RecvMsg will say how
			}
			return err
		}
	}
	if s.closeSent {
		_ = ns.CloseSend() // always nil in grpc-go
	}
	if s.cancelCur != nil {
		s.cancelCur()
	}
	s.cur, s.cancelCur, s.permit, s.permitLive = ns, cancel, p, s.br != nil
	return nil
}

// stopped reports whether the stream has ended, or was committed after its
// first attempt started.
func (s *clientStream) stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended || s.committed && s.cur != nil
}

// errStop tells recover that no further attempt may start.
var errStop = errors.New("keelgrpc: stream ended or committed")

// recover runs the retry policy after the current attempt failed with err0
// before the stream was committed. Its first attempt is the one that failed;
// each later one opens a new stream and runs pending (the caller's
// interrupted RecvMsg) on it. eof reports that pending met the end of a
// successful stream. If the stream ends or commits meanwhile, the last
// attempt's error is returned, marked permanent.
func (s *clientStream) recover(err0 error, pending func(grpc.ClientStream) error) (eof bool, err error) {
	s.attemptDone(err0)
	if s.stopped() {
		return false, err0
	}
	n := 0
	last := err0
	err = s.c.retry.Do(s.ctx, func(context.Context) error {
		n++
		if n == 1 {
			return err0
		}
		if err := s.open(); err != nil {
			if errors.Is(err, errStop) {
				return keel.Permanent(last)
			}
			last = err
			return err
		}
		if pending == nil {
			return nil
		}
		cur := s.current()
		err := pending(cur)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, io.EOF):
			eof = true
			return nil
		}
		err = withPushback(err, cur.Trailer())
		s.attemptDone(err)
		last = err
		return err
	})
	return eof, err
}

func (s *clientStream) current() grpc.ClientStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *clientStream) state() (grpc.ClientStream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.committed
}

func (s *clientStream) commit() {
	s.mu.Lock()
	s.committed = true
	clear(s.sent)
	s.sent = nil
	s.mu.Unlock()
}

// outcome judges how an attempt ended, for the breaker.
func (s *clientStream) outcome(err error) keel.Outcome {
	if err == nil || errors.Is(err, io.EOF) {
		return keel.OutcomeSuccess
	}
	return s.c.breakerOutcome(s.ctx, err)
}

// attemptDone reports the current attempt's outcome to the breaker, once.
func (s *clientStream) attemptDone(err error) {
	s.mu.Lock()
	p, live := s.permit, s.permitLive
	s.permitLive = false
	s.mu.Unlock()
	if live {
		p.Done(s.outcome(err))
	}
}

// finish ends the stream, once: it stops watching the context, cancels the
// current attempt's context, reports its outcome and returns the bulkhead
// permit.
func (s *clientStream) finish(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	stop := s.stopWatch
	p, live := s.permit, s.permitLive
	s.permitLive = false
	hp := s.bh
	s.bh = bulkhead.Permit{}
	cancel := s.cancelCur
	s.cancelCur = nil
	clear(s.sent)
	s.sent = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if cancel != nil {
		cancel() // frees what gRPC still holds for the attempt
	}
	if live {
		p.Done(s.outcome(err))
	}
	hp.Release()
}

// canceled runs, on a goroutine of the context package, when the caller's
// context ends before the stream did.
func (s *clientStream) canceled() {
	s.finish(status.FromContextError(s.ctx.Err()).Err())
}

// SendMsg sends m on the current attempt and, until the stream is committed,
// keeps it for replay.
func (s *clientStream) SendMsg(m any) error {
	s.mu.Lock()
	if !s.committed {
		if len(s.sent) >= s.c.replayLimit {
			s.committed = true
			clear(s.sent)
			s.sent = nil
		} else {
			s.sent = append(s.sent, m)
		}
	}
	cur, committed := s.cur, s.committed
	s.mu.Unlock()
	err := cur.SendMsg(m)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		if !committed {
			return nil // kept; RecvMsg learns the status and may retry
		}
		return err
	}
	s.finish(err)
	return err
}

// RecvMsg receives the next message, retrying the stream if it fails before
// it is committed.
func (s *clientStream) RecvMsg(m any) error {
	cur, committed := s.state()
	err := cur.RecvMsg(m)
	switch {
	case err == nil:
		if !committed {
			s.commit()
		}
		if !s.desc.ServerStreams {
			s.finish(nil) // the single response: the call is over
		}
		return nil
	case errors.Is(err, io.EOF):
		s.finish(err)
		return err
	case committed:
		s.finish(err)
		return err
	}
	eof, err := s.recover(withPushback(err, cur.Trailer()), func(cs grpc.ClientStream) error { return cs.RecvMsg(m) })
	if err != nil {
		s.finish(err)
		return clientError(err)
	}
	if eof {
		s.finish(io.EOF)
		return io.EOF
	}
	s.commit()
	if !s.desc.ServerStreams {
		s.finish(nil)
	}
	return nil
}

// Header returns the current attempt's response headers. Non-empty headers
// commit the stream.
func (s *clientStream) Header() (metadata.MD, error) {
	cur, committed := s.state()
	md, err := cur.Header()
	if err != nil {
		s.finish(err)
		return md, err
	}
	if len(md) > 0 && !committed {
		s.commit()
	}
	return md, nil
}

// Trailer returns the current attempt's trailer.
func (s *clientStream) Trailer() metadata.MD { return s.current().Trailer() }

// CloseSend closes the sending side of the current attempt, and of every
// later one.
func (s *clientStream) CloseSend() error {
	s.mu.Lock()
	s.closeSent = true
	cur := s.cur
	s.mu.Unlock()
	return cur.CloseSend()
}

// Context returns the current attempt's context.
func (s *clientStream) Context() context.Context { return s.current().Context() }
