package keelgrpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/timeout"
)

// DefaultStreamReplayLimit is the number of sent messages a client stream
// keeps for replay when ClientConfig.StreamReplayLimit is zero.
const DefaultStreamReplayLimit = 64

// Scope says which calls share a circuit breaker.
type Scope uint8

const (
	// ScopeTarget gives each target (grpc.ClientConn.Target, such as
	// "dns:///payments:443") its own breaker: every method of a server
	// counts together.
	ScopeTarget Scope = iota
	// ScopeMethod gives each target and full method name
	// ("dns:///payments:443/pkg.Service/Method") its own breaker, so one
	// failing method does not stop the others.
	ScopeMethod
)

// String returns "target" or "method".
func (s Scope) String() string {
	switch s {
	case ScopeTarget:
		return "target"
	case ScopeMethod:
		return "method"
	}
	return "unknown"
}

// ClientConfig configures the client interceptors. The zero ClientConfig is
// valid and guards nothing: calls pass straight through. Set the policies you
// want; every pointer field left nil leaves its policy out.
//
// For a unary call the policies run, from the outside in, as
// retry(breaker(bulkhead(timeout(call)))): each attempt asks the breaker,
// takes a bulkhead permit and has its own timeout. For a stream see
// [Client.StreamClientInterceptor].
type ClientConfig struct {
	// Name names the client in events and errors. It is the default Name of
	// every policy below whose own Name is empty. Optional.
	Name string

	// Retry configures retries. Nil means every call is tried once. A nil
	// Retry.Classifier means the Classifier below; a nil Retry.Observer means
	// Observer. Retries wait at least the server's grpc-retry-pushback-ms
	// (see ParsePushback) and never past the call's deadline.
	Retry *retry.Config

	// Breaker configures circuit breakers, one per BreakerScope key, kept in
	// a breaker.Group of at most MaxBreakers. Nil means no breaker. A nil
	// Breaker.Classifier means ClassifyBreaker; a nil Breaker.Observer means
	// Observer.
	Breaker *breaker.Config
	// BreakerScope chooses which calls share a breaker. The zero value is
	// ScopeTarget.
	BreakerScope Scope
	// MaxBreakers bounds the number of breakers kept. Zero means
	// breaker.DefaultMaxKeys (1024). It must not be negative.
	MaxBreakers int

	// Bulkhead configures one bulkhead shared by every call through the
	// client. Nil means none. A unary attempt holds a permit while it runs; a
	// stream holds one from its start until it ends. A nil Bulkhead.Observer
	// means Observer.
	Bulkhead *bulkhead.Config

	// Timeout bounds each unary attempt: its context gets a deadline Timeout
	// after the attempt starts, unless the caller's is sooner (it never
	// extends the caller's deadline, which gRPC sends to the server). An
	// attempt cut off by it is retried. Zero means no per-attempt limit. It
	// does not apply to streams. It must not be negative.
	Timeout time.Duration

	// RetryableCodes are the status codes retried. Nil means
	// codes.Unavailable only. ResourceExhausted is retried, whether listed
	// or not, when the response carries a valid grpc-retry-pushback-ms.
	// See NewClassifier. Ignored when Classifier is set.
	RetryableCodes []codes.Code

	// StreamReplayLimit is how many sent messages a stream keeps so that it
	// can replay them on a new attempt. A stream that sends more before its
	// first response message is no longer retried. Zero means
	// DefaultStreamReplayLimit (64); a negative value means streams are
	// never retried.
	StreamReplayLimit int

	// Hedge, if set, hedges unary calls of the methods HedgeMethods lists or
	// HedgeIf accepts: when an attempt has not answered after Hedge.Delay
	// (or the adaptive percentile delay), another one is sent, and the
	// first success wins; the others are canceled. Hedges run inside the
	// retry policy and outside the breaker, so each hedge asks the breaker,
	// takes a bulkhead permit and has its own Timeout. Only hedge idempotent
	// methods: a canceled loser may already have had its effect. A call
	// whose reply is not a protocol buffer message (a custom codec) is not
	// hedged. Streams are never hedged. Hedge.Name defaults to Name,
	// Hedge.Observer to Observer and Hedge.Classifier to Classifier (or
	// its default). Nil means no hedging.
	Hedge *hedge.Config
	// HedgeMethods lists the full method names ("/pkg.Service/Method") that
	// Hedge applies to. Hedge needs HedgeMethods or HedgeIf.
	HedgeMethods []string
	// HedgeIf, if set, reports whether Hedge applies to a full method name,
	// besides those in HedgeMethods. It must be safe for concurrent use.
	HedgeIf func(fullMethod string) bool

	// Classifier judges each attempt for retries. Nil means
	// NewClassifier(RetryableCodes...), or Classify when RetryableCodes is
	// nil too.
	Classifier keel.Classifier

	// Observer receives the events of every policy above whose own Observer
	// is nil. Nil means no events are built.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, or nil. Zero fields are
// valid: they mean the documented defaults.
func (c ClientConfig) Validate() error {
	if c.BreakerScope > ScopeMethod {
		return fmt.Errorf("keelgrpc: ClientConfig.BreakerScope %d is not ScopeTarget or ScopeMethod", c.BreakerScope)
	}
	if c.MaxBreakers < 0 {
		return fmt.Errorf("keelgrpc: ClientConfig.MaxBreakers %d is negative", c.MaxBreakers)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("keelgrpc: ClientConfig.Timeout %v is negative", c.Timeout)
	}
	for i, code := range c.RetryableCodes {
		if int(code) >= numCodes || code == codes.OK {
			return fmt.Errorf("keelgrpc: ClientConfig.RetryableCodes[%d] %v is not a gRPC error code", i, code)
		}
	}
	if c.Retry != nil {
		if err := c.Retry.Validate(); err != nil {
			return fmt.Errorf("keelgrpc: ClientConfig.Retry: %w", err)
		}
	}
	if c.Breaker != nil {
		if err := c.Breaker.Validate(); err != nil {
			return fmt.Errorf("keelgrpc: ClientConfig.Breaker: %w", err)
		}
	}
	if c.Bulkhead != nil {
		if err := c.Bulkhead.Validate(); err != nil {
			return fmt.Errorf("keelgrpc: ClientConfig.Bulkhead: %w", err)
		}
	}
	if c.Hedge != nil {
		if len(c.HedgeMethods) == 0 && c.HedgeIf == nil {
			return errors.New("keelgrpc: ClientConfig.Hedge needs HedgeMethods or HedgeIf: only idempotent methods may be hedged")
		}
		if err := c.Hedge.Validate(); err != nil {
			return fmt.Errorf("keelgrpc: ClientConfig.Hedge: %w", err)
		}
	}
	for i, m := range c.HedgeMethods {
		if len(m) < 3 || m[0] != '/' {
			return fmt.Errorf("keelgrpc: ClientConfig.HedgeMethods[%d] %q is not a full method name (/pkg.Service/Method)", i, m)
		}
	}
	return nil
}

// Client holds the policies of the client interceptors: one retry policy,
// one group of breakers, one bulkhead, one timeout. Build it with NewClient
// and install both of its interceptors on a connection, so that unary calls
// and streams share the breakers and the bulkhead:
//
//	c := keelgrpc.MustNewClient(cfg)
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()),
//		grpc.WithChainStreamInterceptor(c.StreamClientInterceptor()))
//
// A Client is immutable and safe for concurrent use; per-call state lives in
// the call, never in the Client. The zero Client is not usable.
type Client struct {
	name         string
	retry        *retry.Policy
	breakers     *breaker.Group
	scope        Scope
	bulkhead     *bulkhead.Bulkhead
	inner        keel.Handler // bulkhead(timeout(call)), per attempt
	classify     keel.Classifier
	breakerClass keel.Classifier
	replayLimit  int  // < 0: streams are not retried
	passthrough  bool // no policy at all

	hedge        *hedge.Policy       // nil: no hedging
	hedgeMethods map[string]struct{} // methods to hedge
	hedgeIf      func(string) bool   // more methods to hedge, or nil

	calls sync.Pool // *unaryCall
}

// NewClient returns a Client configured by cfg, or the error of cfg.Validate.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{name: cfg.Name, scope: cfg.BreakerScope, replayLimit: cfg.StreamReplayLimit}
	if c.replayLimit == 0 {
		c.replayLimit = DefaultStreamReplayLimit
	}
	c.classify = cfg.Classifier
	if c.classify == nil {
		if cfg.RetryableCodes == nil {
			c.classify = classifyDefault
		} else {
			c.classify = NewClassifier(cfg.RetryableCodes...)
		}
	}
	if cfg.Retry != nil {
		rc := *cfg.Retry
		rc.Name = orDefault(rc.Name, cfg.Name)
		if rc.Classifier == nil {
			rc.Classifier = c.classify
		}
		if rc.Observer == nil {
			rc.Observer = cfg.Observer
		}
		p, err := retry.New(rc)
		if err != nil {
			return nil, fmt.Errorf("keelgrpc: ClientConfig.Retry: %w", err)
		}
		c.retry = p
	}
	if cfg.Breaker != nil {
		bc := *cfg.Breaker
		bc.Name = orDefault(bc.Name, cfg.Name)
		if bc.Classifier == nil {
			bc.Classifier = ClassifyBreaker
		}
		c.breakerClass = bc.Classifier
		if bc.Observer == nil {
			bc.Observer = cfg.Observer
		}
		g, err := breaker.NewGroup(breaker.GroupConfig{Breaker: bc, MaxKeys: cfg.MaxBreakers})
		if err != nil {
			return nil, fmt.Errorf("keelgrpc: ClientConfig.Breaker: %w", err)
		}
		c.breakers = g
	}
	var inner []keel.Policy
	if cfg.Bulkhead != nil {
		hc := *cfg.Bulkhead
		hc.Name = orDefault(hc.Name, cfg.Name)
		if hc.Observer == nil {
			hc.Observer = cfg.Observer
		}
		b, err := bulkhead.New(hc)
		if err != nil {
			return nil, fmt.Errorf("keelgrpc: ClientConfig.Bulkhead: %w", err)
		}
		c.bulkhead = b
		inner = append(inner, b)
	}
	if cfg.Timeout > 0 {
		inner = append(inner, timeout.MustNew(timeout.Config{Name: cfg.Name, Timeout: cfg.Timeout, Observer: cfg.Observer}))
	}
	c.inner = keel.Chain(inner...).Wrap(runOp)
	if cfg.Hedge != nil {
		hc := *cfg.Hedge
		hc.Name = orDefault(hc.Name, cfg.Name)
		if hc.Classifier == nil {
			hc.Classifier = c.classify
		}
		if hc.Observer == nil {
			hc.Observer = cfg.Observer
		}
		h, err := hedge.New(hc)
		if err != nil {
			return nil, fmt.Errorf("keelgrpc: ClientConfig.Hedge: %w", err)
		}
		c.hedge = h
		c.hedgeMethods = make(map[string]struct{}, len(cfg.HedgeMethods))
		for _, m := range cfg.HedgeMethods {
			c.hedgeMethods[m] = struct{}{}
		}
		c.hedgeIf = cfg.HedgeIf
	}
	c.passthrough = c.retry == nil && c.breakers == nil && len(inner) == 0 && c.hedge == nil
	c.calls.New = func() any { return newUnaryCall(c) }
	return c, nil
}

// MustNewClient is like NewClient but panics if cfg is invalid.
func MustNewClient(cfg ClientConfig) *Client {
	c, err := NewClient(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// UnaryClientInterceptor returns a unary client interceptor applying the
// policies of cfg. It panics if cfg is invalid. Each call of it builds new
// policies: to let unary calls and streams share breakers and a bulkhead,
// build one Client with NewClient and use its two interceptor methods.
func UnaryClientInterceptor(cfg ClientConfig) grpc.UnaryClientInterceptor {
	return MustNewClient(cfg).UnaryClientInterceptor()
}

// StreamClientInterceptor returns a stream client interceptor applying the
// policies of cfg. It panics if cfg is invalid. See UnaryClientInterceptor
// about sharing policies.
func StreamClientInterceptor(cfg ClientConfig) grpc.StreamClientInterceptor {
	return MustNewClient(cfg).StreamClientInterceptor()
}

// Retry returns the client's retry policy, or nil if it has none.
func (c *Client) Retry() *retry.Policy { return c.retry }

// Hedge returns the client's hedge policy, or nil if it has none.
func (c *Client) Hedge() *hedge.Policy { return c.hedge }

// Bulkhead returns the client's bulkhead, or nil if it has none.
func (c *Client) Bulkhead() *bulkhead.Bulkhead { return c.bulkhead }

// Breakers returns the client's breaker group, or nil if it has none. The key
// of a breaker is the connection's target, followed for ScopeMethod by the
// full method name ("dns:///host:443/pkg.Service/Method").
func (c *Client) Breakers() *breaker.Group { return c.breakers }

// breakerFor returns the breaker for a call, or nil. Looking up an existing
// key with ScopeTarget does not allocate.
func (c *Client) breakerFor(cc *grpc.ClientConn, method string) *breaker.Breaker {
	if c.breakers == nil {
		return nil
	}
	key := ""
	if cc != nil {
		key = cc.Target()
	}
	if c.scope == ScopeMethod {
		key += method
	}
	return c.breakers.Get(key)
}

// outcome classifies err for a breaker.
func (c *Client) breakerOutcome(ctx context.Context, err error) keel.Outcome {
	return c.breakerClass(ctx, err)
}

// clientError is what an interceptor returns for err: err itself when it is
// nil or carries a gRPC status, so status.Code and status.FromError see the
// server's status (wrapped, after retries, in a *retry.ExhaustedError);
// otherwise err with the status CodeOf gives it, still unwrapping to err.
func clientError(err error) error { return toStatus(err) }

// runOp is the innermost handler.
func runOp(ctx context.Context, op func(context.Context) error) error { return op(ctx) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
