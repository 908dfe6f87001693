package keelgrpc

import (
	"context"
	"runtime/debug"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
)

// ErrPanic is the status error a server interceptor returns for a handler
// that panicked: codes.Internal with a fixed message, so that nothing of the
// panic value reaches the client.
var ErrPanic = status.Error(codes.Internal, "keelgrpc: handler panicked")

// ServerConfig configures the server interceptors. The zero ServerConfig is
// valid: it recovers panics and admits every call.
type ServerConfig struct {
	// Admission guards every call: a *bulkhead.Bulkhead, a
	// *ratelimit.Limiter, a *limit.Limiter, a *shed.Shedder (which finds the
	// call's criticality from CriticalityKey in its context), a keel.Chain
	// of them, or any keel.Policy. The
	// handler runs inside it, so a bulkhead permit is held until a unary
	// handler returns or a stream handler returns (the stream's lifetime).
	// Nil admits every call.
	Admission keel.Policy

	// OnPanic, if set, is called with the method, the recovered value and
	// the stack of every panicking handler, before the call fails with
	// ErrPanic. It is where to log the panic; it must not panic itself.
	OnPanic func(ctx context.Context, method string, v any, stack []byte)
}

// Validate reports the first invalid field of c, or nil. Every ServerConfig
// is valid today; Validate exists so that configuration code treats all
// Keel configs alike.
func (c ServerConfig) Validate() error { return nil }

// Server holds the server interceptors' configuration. Build it with
// NewServer and install both interceptors:
//
//	s := keelgrpc.MustNewServer(cfg)
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(s.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(s.StreamServerInterceptor()))
//
// Put it first in the chain, so that it recovers panics of every later
// interceptor too. A Server is immutable and safe for concurrent use; the zero
// Server recovers panics and admits every call.
type Server struct {
	admit   keel.Handler // nil: no admission policy
	onPanic func(ctx context.Context, method string, v any, stack []byte)
	calls   sync.Pool // *serverCall
}

// NewServer returns a Server configured by cfg, or the error of cfg.Validate.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{onPanic: cfg.OnPanic}
	if cfg.Admission != nil {
		s.admit = cfg.Admission.Wrap(runOp)
	}
	s.calls.New = func() any {
		sc := &serverCall{}
		sc.runFn = sc.run
		return sc
	}
	return s, nil
}

// MustNewServer is like NewServer but panics if cfg is invalid.
func MustNewServer(cfg ServerConfig) *Server {
	s, err := NewServer(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// UnaryServerInterceptor returns a unary server interceptor for cfg. It
// panics if cfg is invalid.
func UnaryServerInterceptor(cfg ServerConfig) grpc.UnaryServerInterceptor {
	return MustNewServer(cfg).UnaryServerInterceptor()
}

// StreamServerInterceptor returns a stream server interceptor for cfg. It
// panics if cfg is invalid.
func StreamServerInterceptor(cfg ServerConfig) grpc.StreamServerInterceptor {
	return MustNewServer(cfg).StreamServerInterceptor()
}

// UnaryServerInterceptor returns the interceptor that runs each unary call
// through the admission policy and recovers its panics.
//
// A panic in the handler (or in a later interceptor) is recovered, after
// the admission policy has released what it held, and the call fails with
// ErrPanic (codes.Internal). An error without a gRPC status — the admission
// policy's rejection, or a Keel error the handler returned, such as a
// downstream breaker's — is given the status CodeOf chooses; when it carries
// a retry-after hint (keel.RetryAfter) and the code is Unavailable or
// ResourceExhausted, the hint is sent as the grpc-retry-pushback-ms trailer
// (FormatPushback). Errors that carry a status are returned unchanged.
//
// A call that is admitted and succeeds allocates nothing in the interceptor.
func (s *Server) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return s.unary
}

// StreamServerInterceptor returns the interceptor that runs each stream
// through the admission policy, for the stream's whole lifetime, and
// recovers its panics, as UnaryServerInterceptor does. If the admission
// policy gives the handler a context of its own (a timeout, say), the
// handler's stream reports it from Context.
func (s *Server) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return s.stream
}

// serverCall is the state of one admitted unary call, pooled so that the
// operation handed to the admission policy is bound once.
type serverCall struct {
	req     any
	handler grpc.UnaryHandler
	resp    any
	runFn   func(context.Context) error
}

func (sc *serverCall) run(ctx context.Context) error {
	var err error
	sc.resp, err = sc.handler(ctx, sc.req)
	return err
}

func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, s.panicked(ctx, info.FullMethod, v)
		}
	}()
	ctx = incomingCriticality(ctx)
	if s.admit == nil {
		resp, err = handler(ctx, req)
	} else {
		sc := s.calls.Get().(*serverCall)
		sc.req, sc.handler = req, handler
		err = s.admit(ctx, sc.runFn)
		resp = sc.resp
		sc.req, sc.handler, sc.resp = nil, nil, nil
		s.calls.Put(sc)
	}
	if err != nil {
		return resp, serverError(err, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	}
	return resp, nil
}

func (s *Server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = s.panicked(ss.Context(), info.FullMethod, v)
		}
	}()
	if cctx := incomingCriticality(ss.Context()); cctx != ss.Context() {
		ss = &serverStream{ServerStream: ss, ctx: cctx}
	}
	if s.admit == nil {
		err = handler(srv, ss)
	} else {
		sctx := ss.Context()
		err = s.admit(sctx, func(ctx context.Context) error {
			if ctx != sctx {
				return handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
			}
			return handler(srv, ss)
		})
	}
	if err != nil {
		return serverError(err, ss.SetTrailer)
	}
	return nil
}

// serverStream gives the handler the admission policy's context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

func (s *Server) panicked(ctx context.Context, method string, v any) error {
	if s.onPanic != nil {
		s.onPanic(ctx, method, v, debug.Stack())
	}
	return ErrPanic
}

// serverError gives err the status CodeOf chooses, unless it carries one,
// and sends its retry-after hint as pushback through setTrailer.
func serverError(err error, setTrailer func(metadata.MD)) error {
	if hasStatus(err) {
		return err
	}
	code := CodeOf(err)
	if code == codes.Unavailable || code == codes.ResourceExhausted {
		if d, ok := keel.RetryAfter(err); ok && d > 0 {
			setTrailer(metadata.Pairs(PushbackKey, FormatPushback(d)))
		}
	}
	return &statusError{err: err, code: code}
}
