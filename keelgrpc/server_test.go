package keelgrpc_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/timeout"
)

// withServer returns the server options installing both interceptors of s.
func withServer(s *keelgrpc.Server) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(s.StreamServerInterceptor()),
	}
}

func TestServerPanicIsInternal(t *testing.T) {
	type panicked struct {
		method string
		v      any
		stack  bool
	}
	var (
		mu  sync.Mutex
		got []panicked
	)
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	s := keelgrpc.MustNewServer(keelgrpc.ServerConfig{
		Admission: bh,
		OnPanic: func(_ context.Context, method string, v any, stack []byte) {
			mu.Lock()
			got = append(got, panicked{method, v, len(stack) > 0})
			mu.Unlock()
		},
	})
	srv := &testServer{
		unary:  func(context.Context, int) error { panic("unary boom") },
		output: func(context.Context, int) error { panic("stream boom") },
	}
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv, withServer(s)...)))

	_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "keelgrpc: handler panicked" {
		t.Errorf("unary: got %v, want Internal with a fixed message", err)
	}
	stream, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Internal {
		t.Errorf("stream: got %v, want Internal", err)
	}
	want := []panicked{
		{"/grpc.testing.TestService/UnaryCall", "unary boom", true},
		{"/grpc.testing.TestService/StreamingOutputCall", "stream boom", true},
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(panicked{})); diff != "" {
		t.Errorf("OnPanic calls (-want +got):\n%s", diff)
	}
	if n := bh.InFlight(); n != 0 {
		t.Errorf("admission bulkhead in flight: got %d, want 0 (the panic must release the permit)", n)
	}
}

// A rate-limited server answers ResourceExhausted with the limiter's hint as
// pushback; a Keel client honors it and retries after it.
func TestServerAdmissionRateLimitPushback(t *testing.T) {
	lim := ratelimit.MustNew(ratelimit.Config{Rate: 20, Burst: 1}) // a token every 50ms
	s := keelgrpc.MustNewServer(keelgrpc.ServerConfig{Admission: lim})
	srv := &testServer{}
	addr := serve(t, srv, withServer(s)...)

	// A plain client sees the status and the trailer.
	plain := testpb.NewTestServiceClient(dial(t, addr))
	if _, err := plain.UnaryCall(t.Context(), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	var trailer metadata.MD
	_, err := plain.UnaryCall(t.Context(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	if got, want := status.Code(err), codes.ResourceExhausted; got != want {
		t.Fatalf("code: got %v (%v), want %v", got, err, want)
	}
	vs := trailer.Get(keelgrpc.PushbackKey)
	if len(vs) != 1 {
		t.Fatalf("pushback trailer: got %q, want one value", vs)
	}
	ms, err := strconv.Atoi(vs[0])
	if err != nil || ms < 1 || ms > 50 {
		t.Errorf("pushback: got %q, want 1..50 ms", vs[0])
	}

	// A Keel client waits for it and gets through.
	rec := &keeltest.Recorder{}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), Observer: rec})
	client := testpb.NewTestServiceClient(dial(t, addr, withClient(c)...))
	time.Sleep(60 * time.Millisecond) // let the bucket refill
	before := srv.nUnary.Load()
	for i := range 2 {
		if _, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if got, want := srv.nUnary.Load()-before, int64(2); got != want {
		t.Errorf("handler calls: got %d, want %d", got, want)
	}
	retries := 0
	for _, e := range rec.Events() {
		if e.Kind == keel.EventRetry {
			retries++
			if e.Delay <= 0 || e.Delay > 50*time.Millisecond {
				t.Errorf("retry delay: got %v, want the server's pushback, in (0, 50ms]", e.Delay)
			}
		}
	}
	if retries == 0 {
		t.Error("the second call was not retried after the pushback")
	}
}

func TestServerAdmissionBulkhead(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	s := keelgrpc.MustNewServer(keelgrpc.ServerConfig{Admission: bh})
	srv := &testServer{}
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv, withServer(s)...)))

	// A running stream holds the permit for its lifetime.
	stream, err := client.FullDuplexCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testpb.StreamingOutputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	var trailer metadata.MD
	_, err = client.UnaryCall(t.Context(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	if got, want := status.Code(err), codes.Unavailable; got != want {
		t.Errorf("unary while the stream runs: got %v, want %v", err, want)
	}
	if vs := trailer.Get(keelgrpc.PushbackKey); len(vs) != 0 {
		t.Errorf("pushback: got %q, want none (a full bulkhead has no hint)", vs)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream end: got %v, want io.EOF", err)
	}
	eventually(t, "the stream's permit", func() bool { return bh.InFlight() == 0 })
	if _, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{}); err != nil {
		t.Errorf("unary after the stream ended: %v", err)
	}
	if got, want := srv.nUnary.Load(), int64(1); got != want {
		t.Errorf("handler calls: got %d, want %d (the rejected call never reached it)", got, want)
	}
}

// A Keel error returned by a handler (here a downstream breaker's) gets its
// code and pushback; a status error passes unchanged.
func TestServerMapsHandlerErrors(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantCode     codes.Code
		wantPushback []string
	}{
		{"open breaker", &breaker.OpenError{State: breaker.Open, Remaining: 1500 * time.Millisecond}, codes.Unavailable, []string{"1500"}},
		{"forced open: no hint", &breaker.OpenError{State: breaker.ForcedOpen}, codes.Unavailable, nil},
		{"rate limited", &ratelimit.LimitedError{Delay: 1500*time.Microsecond + 1}, codes.ResourceExhausted, []string{"2"}},
		{"timeout", &timeout.ExceededError{Timeout: time.Second}, codes.DeadlineExceeded, nil},
		{"status", status.Error(codes.NotFound, "nope"), codes.NotFound, nil},
		{"plain", errBoom, codes.Unknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := keelgrpc.MustNewServer(keelgrpc.ServerConfig{})
			srv := &testServer{unary: func(context.Context, int) error { return tt.err }}
			client := testpb.NewTestServiceClient(dial(t, serve(t, srv, withServer(s)...)))
			var trailer metadata.MD
			_, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
			if got := status.Code(err); got != tt.wantCode {
				t.Errorf("code: got %v (%v), want %v", got, err, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantPushback, trailer.Get(keelgrpc.PushbackKey)); diff != "" {
				t.Errorf("pushback (-want +got):\n%s", diff)
			}
		})
	}
}

// An admission policy's context reaches the stream handler.
func TestServerStreamAdmissionContext(t *testing.T) {
	to := timeout.MustNew(timeout.Config{Timeout: time.Hour})
	s := keelgrpc.MustNewServer(keelgrpc.ServerConfig{Admission: to})
	deadlines := make(chan time.Time, 1)
	srv := &testServer{outputMsgs: 1, output: func(ctx context.Context, _ int) error {
		d, _ := ctx.Deadline()
		deadlines <- d
		return nil
	}}
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv, withServer(s)...)))
	start := time.Now()
	stream, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(stream); err != nil {
		t.Fatal(err)
	}
	deadline := <-deadlines
	if deadline.Before(start.Add(59*time.Minute)) || deadline.After(start.Add(61*time.Minute)) {
		t.Errorf("handler deadline: got %v, want about an hour after %v", deadline, start)
	}
}

// The success path of the server interceptor allocates nothing.
func TestServerZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/svc/M"}
	for _, adm := range []keel.Policy{nil, bulkhead.MustNew(bulkhead.Config{})} {
		intercept := keelgrpc.MustNewServer(keelgrpc.ServerConfig{Admission: adm}).UnaryServerInterceptor()
		ctx := t.Context()
		got := testing.AllocsPerRun(1000, func() {
			if _, err := intercept(ctx, info, info, handler); err != nil {
				t.Fatal(err)
			}
		})
		if got != 0 {
			t.Errorf("admission %T: got %v allocs per call, want 0", adm, got)
		}
	}
}

func TestServerErrorsKeepIdentity(t *testing.T) {
	rej := &bulkhead.RejectedError{Reason: keel.ReasonBulkheadFull}
	intercept := keelgrpc.MustNewServer(keelgrpc.ServerConfig{
		Admission: keel.PolicyFunc(func(keel.Handler) keel.Handler {
			return func(context.Context, func(context.Context) error) error { return rej }
		}),
	}).UnaryServerInterceptor()
	_, err := intercept(t.Context(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
		t.Error("the handler ran")
		return nil, nil
	})
	if !errors.Is(err, bulkhead.ErrFull) || status.Code(err) != codes.Unavailable {
		t.Errorf("got %v, want an Unavailable status that still matches bulkhead.ErrFull", err)
	}
}

// The zero Server recovers panics and admits every call.
func TestZeroServer(t *testing.T) {
	var s keelgrpc.Server
	_, err := s.UnaryServerInterceptor()(t.Context(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
		panic("boom")
	})
	if !errors.Is(err, keelgrpc.ErrPanic) || status.Code(err) != codes.Internal {
		t.Errorf("got %v, want ErrPanic", err)
	}
	resp, err := s.UnaryServerInterceptor()(t.Context(), "req", &grpc.UnaryServerInfo{}, func(_ context.Context, req any) (any, error) {
		return req, nil
	})
	if resp != "req" || err != nil {
		t.Errorf("got %v, %v, want req, nil", resp, err)
	}
}
