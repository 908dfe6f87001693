package keelgrpc_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/retry"
)

// fail returns a status error with code, after setting the pushback trailer
// to each of pushback (none: no trailer).
func fail(code codes.Code, pushback ...string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if len(pushback) > 0 {
			md := metadata.MD{}
			for _, p := range pushback {
				md.Append(keelgrpc.PushbackKey, p)
			}
			if err := grpc.SetTrailer(ctx, md); err != nil {
				return err
			}
		}
		return status.Error(code, "scripted "+code.String())
	}
}

// failFirst fails the first k calls with f and lets the rest succeed.
func failFirst(k int, f func(context.Context) error) script {
	return func(ctx context.Context, n int) error {
		if n <= k {
			return f(ctx)
		}
		return nil
	}
}

// fastRetry retries at once, up to attempts times, with no budget.
func fastRetry(attempts int) *retry.Config {
	return &retry.Config{MaxAttempts: attempts, Backoff: backoff.Constant(0), DisableBudget: true}
}

func TestUnaryRetryByCode(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(context.Context) error
		retryable []codes.Code
		wantCalls int64
		wantCode  codes.Code
	}{
		{"unavailable is retried", fail(codes.Unavailable), nil, 3, codes.OK},
		{"invalid argument is not", fail(codes.InvalidArgument), nil, 1, codes.InvalidArgument},
		{"not found is not", fail(codes.NotFound), nil, 1, codes.NotFound},
		{"internal is not by default", fail(codes.Internal), nil, 1, codes.Internal},
		{"internal when listed", fail(codes.Internal), []codes.Code{codes.Internal}, 3, codes.OK},
		{"resource exhausted without pushback is not", fail(codes.ResourceExhausted), nil, 1, codes.ResourceExhausted},
		{"resource exhausted with pushback is", fail(codes.ResourceExhausted, "1"), nil, 3, codes.OK},
		{"negative pushback stops", fail(codes.Unavailable, "-1"), nil, 1, codes.Unavailable},
		{"malformed pushback stops", fail(codes.Unavailable, "soon"), nil, 1, codes.Unavailable},
		{"two pushback values stop", fail(codes.Unavailable, "1", "2"), nil, 1, codes.Unavailable},
		{"zero pushback retries", fail(codes.Unavailable, "0"), nil, 3, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &testServer{unary: failFirst(2, tt.fail)}
			c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), RetryableCodes: tt.retryable})
			client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
			_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
			if got := status.Code(err); got != tt.wantCode {
				t.Errorf("code: got %v, want %v (err %v)", got, tt.wantCode, err)
			}
			if got := srv.nUnary.Load(); got != tt.wantCalls {
				t.Errorf("server calls: got %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestUnaryRetryExhausted(t *testing.T) {
	srv := &testServer{unary: failFirst(100, fail(codes.Unavailable))}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3)})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
	if !errors.Is(err, retry.ErrExhausted) {
		t.Errorf("errors.Is(err, retry.ErrExhausted): got false, want true (err %v)", err)
	}
	if got, want := status.Code(err), codes.Unavailable; got != want {
		t.Errorf("status.Code: got %v, want %v", got, want)
	}
	if got, want := keelgrpc.CodeOf(err), codes.Unavailable; got != want {
		t.Errorf("CodeOf: got %v, want %v", got, want)
	}
	if got, want := srv.nUnary.Load(), int64(3); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

// The pushback is a lower bound on the delay: the retry policy's EventRetry
// shows the delay it chose, with a zero backoff.
func TestUnaryPushbackDelay(t *testing.T) {
	for _, code := range []codes.Code{codes.Unavailable, codes.ResourceExhausted} {
		t.Run(code.String(), func(t *testing.T) {
			srv := &testServer{unary: failFirst(1, fail(code, "20"))}
			rec := &keeltest.Recorder{}
			c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), Observer: rec})
			client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
			start := time.Now()
			if _, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			var delays []time.Duration
			for _, e := range rec.Events() {
				if e.Kind == keel.EventRetry {
					delays = append(delays, e.Delay)
				}
			}
			if diff := cmp.Diff([]time.Duration{20 * time.Millisecond}, delays); diff != "" {
				t.Errorf("retry delays (-want +got):\n%s", diff)
			}
			if elapsed < 20*time.Millisecond {
				t.Errorf("elapsed: got %v, want at least the 20ms pushback", elapsed)
			}
			if got, want := srv.nUnary.Load(), int64(2); got != want {
				t.Errorf("server calls: got %d, want %d", got, want)
			}
		})
	}
}

// A pushback longer than retry's MaxRetryAfter ends the call rather than
// retrying early.
func TestUnaryPushbackTooLong(t *testing.T) {
	srv := &testServer{unary: failFirst(1, fail(codes.Unavailable, "60000"))}
	rc := fastRetry(3)
	rc.MaxRetryAfter = time.Second
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: rc})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
	ex, ok := errors.AsType[*retry.ExhaustedError](err)
	if !ok || ex.Reason != keel.ReasonRetryAfter {
		t.Fatalf("got %v, want a *retry.ExhaustedError with ReasonRetryAfter", err)
	}
	if d, ok := keel.RetryAfter(err); !ok || d != time.Minute {
		t.Errorf("keel.RetryAfter: got %v, %v, want 1m0s, true", d, ok)
	}
	if got, want := srv.nUnary.Load(), int64(1); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

func TestUnaryBreakerOpens(t *testing.T) {
	srv := &testServer{unary: failFirst(100, fail(codes.Unavailable))}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Breaker: &breaker.Config{WindowSize: 3, MinimumCalls: 3, OpenDuration: time.Hour},
	})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	for i := range 3 {
		if _, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{}); status.Code(err) != codes.Unavailable || errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("call %d: got %v, want the server's Unavailable", i+1, err)
		}
	}
	_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("4th call: got %v, want breaker.ErrOpen", err)
	}
	if got, want := status.Code(err), codes.Unavailable; got != want {
		t.Errorf("4th call code: got %v, want %v", got, want)
	}
	if d, ok := keel.RetryAfter(err); !ok || d <= 59*time.Minute {
		t.Errorf("keel.RetryAfter: got %v, %v, want about an hour", d, ok)
	}
	if got, want := srv.nUnary.Load(), int64(3); got != want {
		t.Errorf("server calls: got %d, want %d (the rejected call must not reach the server)", got, want)
	}
}

// Caller errors (InvalidArgument, NotFound) say nothing about the server:
// they never open the breaker.
func TestUnaryBreakerIgnoresCallerErrors(t *testing.T) {
	srv := &testServer{unary: failFirst(100, fail(codes.InvalidArgument))}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Breaker: &breaker.Config{WindowSize: 3, MinimumCalls: 3, OpenDuration: time.Hour},
	})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	for range 5 {
		_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
		if got, want := status.Code(err), codes.InvalidArgument; got != want || errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("got %v, want the server's InvalidArgument", err)
		}
	}
	if got, want := srv.nUnary.Load(), int64(5); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

func TestUnaryBreakerScope(t *testing.T) {
	tests := []struct {
		scope     keelgrpc.Scope
		wantEmpty codes.Code // the healthy method, after the failing one opened its breaker
	}{
		{keelgrpc.ScopeTarget, codes.Unavailable},
		{keelgrpc.ScopeMethod, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.scope.String(), func(t *testing.T) {
			srv := &testServer{unary: failFirst(100, fail(codes.Internal))}
			c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
				Breaker:      &breaker.Config{WindowSize: 2, MinimumCalls: 2, OpenDuration: time.Hour},
				BreakerScope: tt.scope,
			})
			client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
			for range 3 {
				_, _ = client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
			}
			_, err := client.EmptyCall(t.Context(), &testpb.Empty{})
			if got := status.Code(err); got != tt.wantEmpty {
				t.Errorf("EmptyCall: got %v, want %v", err, tt.wantEmpty)
			}
			if got, want := srv.nUnary.Load(), int64(2); got != want {
				t.Errorf("UnaryCall server calls: got %d, want %d", got, want)
			}
		})
	}
}

// The caller's own cancellation is neither retried nor counted.
func TestUnaryCallerCancelIsNeutral(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := &testServer{unary: func(ctx context.Context, n int) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Retry:   fastRetry(3),
		Breaker: &breaker.Config{},
	})
	cc := dial(t, serve(t, srv), withClient(c)...)
	client := testpb.NewTestServiceClient(cc)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if got, want := status.Code(err), codes.Canceled; got != want {
		t.Errorf("code: got %v, want %v", got, want)
	}
	if got, want := srv.nUnary.Load(), int64(1); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
	if got := c.Breakers().Get(cc.Target()).Metrics().Calls; got != 0 {
		t.Errorf("breaker calls: got %d, want 0 (a canceled call is not counted)", got)
	}
}

// The caller's deadline: not retried, but counted by the breaker.
func TestUnaryCallerDeadline(t *testing.T) {
	srv := &testServer{unary: func(ctx context.Context, n int) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), Breaker: &breaker.Config{}})
	addr := serve(t, srv)
	client := testpb.NewTestServiceClient(dial(t, addr, withClient(c)...))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if got, want := status.Code(err), codes.DeadlineExceeded; got != want {
		t.Errorf("code: got %v, want %v", got, want)
	}
	if got, want := srv.nUnary.Load(), int64(1); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
	m := c.Breakers().Get("passthrough:///" + addr).Metrics()
	if m.Calls != 1 || m.Failures != 1 {
		t.Errorf("breaker: got %d calls, %d failures, want 1, 1", m.Calls, m.Failures)
	}
}

// A per-attempt timeout cuts a slow attempt and retries; the deadline the
// server sees is the attempt's, never later than the caller's.
func TestUnaryAttemptTimeout(t *testing.T) {
	srv := &testServer{unary: func(ctx context.Context, n int) error {
		if n == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), Timeout: 50 * time.Millisecond})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	callerDeadline, _ := ctx.Deadline()
	start := time.Now()
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.nUnary.Load(), int64(2); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
	for i, d := range srv.serverDeadlines() {
		if d.IsZero() || d.After(start.Add(time.Second)) {
			t.Errorf("attempt %d: server deadline %v, want set, within about 50ms of the start %v and before the caller's %v", i+1, d, start, callerDeadline)
		}
	}
}

// A per-attempt timeout longer than the caller's deadline does not extend it.
func TestUnaryTimeoutNeverExtendsDeadline(t *testing.T) {
	srv := &testServer{}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Timeout: time.Hour})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	callerDeadline, _ := ctx.Deadline()
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	d := srv.serverDeadlines()[0]
	// gRPC sends the deadline as a relative timeout: allow for the transit.
	if d.IsZero() || d.After(callerDeadline.Add(100*time.Millisecond)) {
		t.Errorf("server deadline: got %v, want set and not after the caller's %v", d, callerDeadline)
	}
}

func TestUnaryBulkheadFull(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	srv := &testServer{unary: func(ctx context.Context, n int) error {
		if n == 1 {
			close(started)
			<-release
		}
		return nil
	}}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Bulkhead: &bulkhead.Config{MaxConcurrent: 1}, Retry: fastRetry(3)})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	done := make(chan error)
	go func() {
		_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
		done <- err
	}()
	<-started
	_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
	if !errors.Is(err, bulkhead.ErrFull) || status.Code(err) != codes.Unavailable {
		t.Errorf("second call: got %v (code %v), want bulkhead.ErrFull with Unavailable", err, status.Code(err))
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first call: %v", err)
	}
	if got, want := srv.nUnary.Load(), int64(1); got != want {
		t.Errorf("server calls: got %d, want %d (a rejected call is not retried)", got, want)
	}
	if got := c.Bulkhead().InFlight(); got != 0 {
		t.Errorf("bulkhead in flight: got %d, want 0", got)
	}
}

// A panic in the call records a failure, releases the bulkhead permit and
// continues up the stack.
func TestUnaryPanicReleases(t *testing.T) {
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Retry:    fastRetry(3),
		Breaker:  &breaker.Config{},
		Bulkhead: &bulkhead.Config{MaxConcurrent: 1},
	})
	intercept := c.UnaryClientInterceptor()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic(errBoom) }
	func() {
		defer func() {
			if v, _ := recover().(error); !errors.Is(v, errBoom) {
				t.Errorf("recovered %v, want %v", v, errBoom)
			}
		}()
		_ = intercept(t.Context(), "/svc/M", nil, nil, nil, invoker)
		t.Error("the panic did not propagate")
	}()
	if got := c.Bulkhead().InFlight(); got != 0 {
		t.Errorf("bulkhead in flight: got %d, want 0", got)
	}
	m := c.Breakers().Get("").Metrics()
	if m.Calls != 1 || m.Failures != 1 {
		t.Errorf("breaker: got %d calls, %d failures, want 1, 1", m.Calls, m.Failures)
	}
}

// Calls from many goroutines through one Client do not share per-call state:
// each gets its own reply (failsafe-go#136).
func TestUnaryConcurrentCallsKeepTheirOwnState(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := &testServer{unaryReq: func(ctx context.Context, req *testpb.SimpleRequest) error {
		// The first attempt of every other request fails.
		body := string(req.GetPayload().GetBody())
		mu.Lock()
		defer mu.Unlock()
		if !seen[body] && body[1]%2 == 0 {
			seen[body] = true
			return status.Error(codes.Unavailable, "flaky")
		}
		return nil
	}}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(5), Breaker: &breaker.Config{FailureRateThreshold: 90}, Bulkhead: &bulkhead.Config{MaxConcurrent: 100}, Timeout: 5 * time.Second})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	const workers, calls = 8, 25
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range calls {
				body := []byte{byte(w), byte(i)}
				resp, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: body}})
				if err != nil {
					errs <- err
					return
				}
				if got := resp.GetPayload().GetBody(); string(got) != string(body) {
					errs <- errors.New("reply of another call")
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// The success path of the interceptor allocates nothing (gRPC's own
// allocations are not counted here: the invoker is a stub).
func TestUnaryZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	tests := []struct {
		name string
		cfg  keelgrpc.ClientConfig
		max  float64
	}{
		{"none", keelgrpc.ClientConfig{}, 0},
		{"retry+breaker+bulkhead", keelgrpc.ClientConfig{Retry: &retry.Config{}, Breaker: &breaker.Config{}, Bulkhead: &bulkhead.Config{}}, 0},
		// The timeout policy's context is its one allocation.
		{"retry+breaker+bulkhead+timeout", keelgrpc.ClientConfig{Retry: &retry.Config{}, Breaker: &breaker.Config{}, Bulkhead: &bulkhead.Config{}, Timeout: time.Second}, 1},
	}
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			intercept := keelgrpc.MustNewClient(tt.cfg).UnaryClientInterceptor()
			ctx := t.Context()
			got := testing.AllocsPerRun(1000, func() {
				if err := intercept(ctx, "/svc/M", nil, nil, nil, invoker); err != nil {
					t.Fatal(err)
				}
			})
			if got > tt.max {
				t.Errorf("allocs per call: got %v, want at most %v", got, tt.max)
			}
		})
	}
}

func TestClientConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  keelgrpc.ClientConfig
		want string
	}{
		{"zero", keelgrpc.ClientConfig{}, ""},
		{"scope", keelgrpc.ClientConfig{BreakerScope: 7}, "keelgrpc: ClientConfig.BreakerScope 7 is not ScopeTarget or ScopeMethod"},
		{"max breakers", keelgrpc.ClientConfig{MaxBreakers: -1}, "keelgrpc: ClientConfig.MaxBreakers -1 is negative"},
		{"timeout", keelgrpc.ClientConfig{Timeout: -time.Second}, "keelgrpc: ClientConfig.Timeout -1s is negative"},
		{"code OK", keelgrpc.ClientConfig{RetryableCodes: []codes.Code{codes.Unavailable, codes.OK}}, "keelgrpc: ClientConfig.RetryableCodes[1] OK is not a gRPC error code"},
		{"code range", keelgrpc.ClientConfig{RetryableCodes: []codes.Code{99}}, "keelgrpc: ClientConfig.RetryableCodes[0] Code(99) is not a gRPC error code"},
		{"retry", keelgrpc.ClientConfig{Retry: &retry.Config{MaxAttempts: -1}}, "keelgrpc: ClientConfig.Retry: "},
		{"breaker", keelgrpc.ClientConfig{Breaker: &breaker.Config{FailureRateThreshold: 200}}, "keelgrpc: ClientConfig.Breaker: "},
		{"bulkhead", keelgrpc.ClientConfig{Bulkhead: &bulkhead.Config{MaxConcurrent: -1}}, "keelgrpc: ClientConfig.Bulkhead: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tt.want == "" && got != "" || tt.want != "" && (len(got) < len(tt.want) || got[:len(tt.want)] != tt.want) {
				t.Errorf("Validate: got %q, want %q", got, tt.want)
			}
			if _, nerr := keelgrpc.NewClient(tt.cfg); (nerr == nil) != (err == nil) {
				t.Errorf("NewClient error %v disagrees with Validate %v", nerr, err)
			}
		})
	}
}

// The caller's context — its metadata and its deadline — reaches every
// attempt (failsafe-go#122 lost it).
func TestUnaryContextReachesEveryAttempt(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := &testServer{
		unaryReq: func(ctx context.Context, _ *testpb.SimpleRequest) error {
			md, _ := metadata.FromIncomingContext(ctx)
			mu.Lock()
			got = append(got, md.Get("tenant")...)
			mu.Unlock()
			return nil
		},
		unary: failFirst(2, fail(codes.Unavailable)),
	}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), Breaker: &breaker.Config{}, Timeout: time.Minute})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "tenant", "acme"), 10*time.Second)
	defer cancel()
	callerDeadline, _ := ctx.Deadline()
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"acme", "acme", "acme"}, got); diff != "" {
		t.Errorf("metadata per attempt (-want +got):\n%s", diff)
	}
	for i, d := range srv.serverDeadlines() {
		if d.IsZero() || d.After(callerDeadline.Add(100*time.Millisecond)) || d.Before(callerDeadline.Add(-time.Second)) {
			t.Errorf("attempt %d: server deadline %v, want the caller's %v", i+1, d, callerDeadline)
		}
	}
}

// stubInvoker returns an invoker whose n-th call (1-based) fails with
// errs[n-1] and the trailer pushback[n-1] ("" for none), and succeeds past
// the end of errs. It writes the trailer through the grpc.Trailer option, as
// gRPC does.
func stubInvoker(calls *int, errs []error, pushback []string) grpc.UnaryInvoker {
	return func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		*calls++
		n := *calls
		if n > len(errs) {
			return nil
		}
		for _, o := range opts {
			if tr, ok := o.(grpc.TrailerCallOption); ok && pushback[n-1] != "" {
				*tr.TrailerAddr = metadata.Pairs(keelgrpc.PushbackKey, pushback[n-1])
			}
		}
		return errs[n-1]
	}
}

// With a fake clock the wait before each retry is exactly the pushback when
// the backoff is shorter, and the backoff when it is longer.
func TestUnaryPushbackTimingSynctest(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "busy")
	tests := []struct {
		name     string
		backoff  time.Duration
		pushback []string
		want     time.Duration
	}{
		{"pushback above backoff", 10 * time.Millisecond, []string{"250", "500"}, 750 * time.Millisecond},
		{"backoff above pushback", time.Second, []string{"250", "0"}, 2 * time.Second},
		{"no pushback", 100 * time.Millisecond, []string{"", ""}, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
					Retry: &retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(tt.backoff), DisableBudget: true},
				})
				calls := 0
				invoker := stubInvoker(&calls, []error{unavailable, unavailable}, tt.pushback)
				start := time.Now()
				err := c.UnaryClientInterceptor()(t.Context(), "/svc/M", nil, nil, nil, invoker)
				if err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("waited %v, want exactly %v", got, tt.want)
				}
				if calls != 3 {
					t.Errorf("calls: got %d, want 3", calls)
				}
			})
		})
	}
}
