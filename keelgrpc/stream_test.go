package keelgrpc_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/keeltest"
)

// recvAll reads a server stream to its end and returns the first bytes of
// the messages and the final error (nil for io.EOF).
func recvAll(stream testpb.TestService_StreamingOutputCallClient) ([]byte, error) {
	var got []byte
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, m.GetPayload().GetBody()...)
	}
}

func TestServerStreamRetriedBeforeFirstMessage(t *testing.T) {
	srv := &testServer{output: failFirst(2, fail(codes.Unavailable)), outputMsgs: 3}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3)})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	stream, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(stream)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]byte{0, 1, 2}, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if got, want := srv.nOutput.Load(), int64(3); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

func TestServerStreamNotRetriedAfterFirstMessage(t *testing.T) {
	srv := &testServer{outputMsgs: 3, failAfter: 1, failErr: status.Error(codes.Unavailable, "mid-stream")}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3)})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	stream, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(stream)
	if status.Code(err) != codes.Unavailable {
		t.Errorf("error: got %v, want Unavailable", err)
	}
	if diff := cmp.Diff([]byte{0}, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if got, want := srv.nOutput.Load(), int64(1); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

func TestServerStreamNoRetryOnPermanentOrNegativePushback(t *testing.T) {
	tests := []struct {
		name string
		fail func(context.Context) error
		want codes.Code
	}{
		{"invalid argument", fail(codes.InvalidArgument), codes.InvalidArgument},
		{"negative pushback", fail(codes.Unavailable, "-5"), codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &testServer{output: failFirst(1, tt.fail), outputMsgs: 1}
			c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3)})
			client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
			stream, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = recvAll(stream)
			if got := status.Code(err); got != tt.want {
				t.Errorf("code: got %v, want %v", got, tt.want)
			}
			if got, want := srv.nOutput.Load(), int64(1); got != want {
				t.Errorf("server calls: got %d, want %d", got, want)
			}
		})
	}
}

func TestServerStreamPushbackDelay(t *testing.T) {
	srv := &testServer{output: failFirst(1, fail(codes.ResourceExhausted, "20")), outputMsgs: 1}
	rec := &keeltest.Recorder{}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), Observer: rec})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	stream, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(stream); err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	for _, e := range rec.Events() {
		if e.Kind == keel.EventRetry {
			delays = append(delays, e.Delay)
		}
	}
	if diff := cmp.Diff([]time.Duration{20 * time.Millisecond}, delays); diff != "" {
		t.Errorf("retry delays (-want +got):\n%s", diff)
	}
}

// A client stream that fails after the server read every message is
// replayed in full, CloseSend included.
func TestClientStreamReplay(t *testing.T) {
	srv := &testServer{input: failFirst(1, fail(codes.Unavailable))}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3)})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	stream, err := client.StreamingInputCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3} {
		if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, n)}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetAggregatedPayloadSize(), int32(6); got != want {
		t.Errorf("aggregated size: got %d, want %d (every message replayed once)", got, want)
	}
	if got, want := srv.nInput.Load(), int64(2); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

// More messages than StreamReplayLimit commit the stream: it is no longer
// retried.
func TestClientStreamReplayLimit(t *testing.T) {
	srv := &testServer{input: failFirst(1, fail(codes.Unavailable))}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3), StreamReplayLimit: 2})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	stream, err := client.StreamingInputCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := stream.Send(&testpb.StreamingInputCallRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stream.CloseAndRecv(); status.Code(err) != codes.Unavailable {
		t.Errorf("got %v, want Unavailable", err)
	}
	if got, want := srv.nInput.Load(), int64(1); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

// A bidirectional stream that fails before its first response is replayed;
// after the first response it is committed.
func TestBidiStreamRetry(t *testing.T) {
	srv := &testServer{duplex: failFirst(1, fail(codes.Unavailable))}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Retry: fastRetry(3)})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	stream, err := client.FullDuplexCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for i := range byte(3) {
		if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte{i}}}); err != nil {
			t.Fatal(err)
		}
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.GetPayload().GetBody()...)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseSend: got %v, want io.EOF", err)
	}
	if diff := cmp.Diff([]byte{0, 1, 2}, got); diff != "" {
		t.Errorf("echoes (-want +got):\n%s", diff)
	}
	if got, want := srv.nDuplex.Load(), int64(2); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}

// The breaker records a stream's outcome when it ends, and an open breaker
// rejects new streams without reaching the server.
func TestStreamBreaker(t *testing.T) {
	srv := &testServer{outputMsgs: 2, output: func(ctx context.Context, n int) error {
		if n == 2 {
			return nil // only the second stream succeeds
		}
		return status.Error(codes.Internal, "scripted")
	}}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Breaker: &breaker.Config{WindowSize: 3, MinimumCalls: 3, FailureRateThreshold: 60, OpenDuration: time.Hour},
	})
	cc := dial(t, serve(t, srv), withClient(c)...)
	client := testpb.NewTestServiceClient(cc)
	br := c.Breakers().Get(cc.Target())

	// A successful stream counts once, when it ends.
	stream, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m := br.Metrics(); m.Calls != 0 {
		t.Errorf("while the stream runs: got %d breaker calls, want 0", m.Calls)
	}
	if _, err := recvAll(stream); err == nil {
		t.Fatal("the first stream should fail")
	}
	if m := br.Metrics(); m.Calls != 1 || m.Failures != 1 {
		t.Errorf("after one failed stream: got %d calls, %d failures, want 1, 1", m.Calls, m.Failures)
	}
	stream, err = client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(stream); err != nil {
		t.Fatal(err)
	}
	if m := br.Metrics(); m.Calls != 2 || m.Failures != 1 {
		t.Errorf("after a good stream: got %d calls, %d failures, want 2, 1", m.Calls, m.Failures)
	}
	stream, err = client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(stream); status.Code(err) != codes.Internal {
		t.Fatalf("third stream: got %v, want Internal", err)
	}
	if got := br.State(); got != breaker.Open {
		t.Fatalf("breaker state: got %v, want open", got)
	}
	calls := srv.nOutput.Load()
	_, err = client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
	if !errors.Is(err, breaker.ErrOpen) || status.Code(err) != codes.Unavailable {
		t.Errorf("stream on an open breaker: got %v, want breaker.ErrOpen with Unavailable", err)
	}
	if got := srv.nOutput.Load(); got != calls {
		t.Errorf("server calls: got %d, want %d (rejected streams never reach it)", got, calls)
	}
}

// The bulkhead permit of a stream is returned exactly once, however the
// stream ends.
func TestStreamBulkheadReleasedOnce(t *testing.T) {
	type env struct {
		client testpb.TestServiceClient
		srv    *testServer
	}
	tests := []struct {
		name string
		srv  func() *testServer
		run  func(t *testing.T, e env)
	}{
		{"server stream read to EOF", func() *testServer { return &testServer{outputMsgs: 2} }, func(t *testing.T, e env) {
			s, err := e.client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := recvAll(s); err != nil {
				t.Fatal(err)
			}
		}},
		{"server error", func() *testServer {
			return &testServer{outputMsgs: 2, failAfter: 1, failErr: status.Error(codes.Internal, "x")}
		}, func(t *testing.T, e env) {
			s, err := e.client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := recvAll(s); status.Code(err) != codes.Internal {
				t.Fatalf("got %v, want Internal", err)
			}
		}},
		{"server error, retried and exhausted", func() *testServer { return &testServer{output: failFirst(100, fail(codes.Unavailable))} }, func(t *testing.T, e env) {
			s, err := e.client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := recvAll(s); status.Code(err) != codes.Unavailable {
				t.Fatalf("got %v, want Unavailable", err)
			}
		}},
		{"client stream single response", func() *testServer { return &testServer{} }, func(t *testing.T, e env) {
			s, err := e.client.StreamingInputCall(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CloseAndRecv(); err != nil {
				t.Fatal(err)
			}
		}},
		{"caller cancels mid-stream", func() *testServer { return &testServer{} }, func(t *testing.T, e env) {
			ctx, cancel := context.WithCancel(t.Context())
			s, err := e.client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(&testpb.StreamingOutputCallRequest{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			cancel() // and never call Recv again
		}},
		{"caller cancels, then reads", func() *testServer { return &testServer{} }, func(t *testing.T, e env) {
			ctx, cancel := context.WithCancel(t.Context())
			s, err := e.client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			if _, err := s.Recv(); status.Code(err) != codes.Canceled {
				t.Fatalf("got %v, want Canceled", err)
			}
		}},
		{"caller deadline mid-stream", func() *testServer { return &testServer{} }, func(t *testing.T, e env) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			s, err := e.client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("got %v, want DeadlineExceeded", err)
			}
		}},
		{"context already canceled", func() *testServer { return &testServer{} }, func(t *testing.T, e env) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := e.client.FullDuplexCall(ctx); status.Code(err) != codes.Canceled {
				t.Fatalf("got %v, want Canceled", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &keeltest.Recorder{}
			srv := tt.srv()
			c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
				Retry:    fastRetry(3),
				Breaker:  &breaker.Config{},
				Bulkhead: &bulkhead.Config{MaxConcurrent: 1, Observer: rec},
			})
			client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
			tt.run(t, env{client, srv})
			eventually(t, "the permit's return", func() bool { return c.Bulkhead().InFlight() == 0 })
			// A second release would panic in the bulkhead; count the events too.
			time.Sleep(5 * time.Millisecond)
			acquired, released := rec.Count(keel.EventAcquired), rec.Count(keel.EventReleased)
			if acquired > 1 || released != acquired {
				t.Errorf("bulkhead: %d acquired, %d released, want at most 1 and equal", acquired, released)
			}
		})
	}
}

// A stream waits for no permit it cannot have: with the only permit held by
// a running stream, the next one is rejected and the server never sees it.
func TestStreamBulkheadHeldForLifetime(t *testing.T) {
	srv := &testServer{}
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{Bulkhead: &bulkhead.Config{MaxConcurrent: 1}})
	client := testpb.NewTestServiceClient(dial(t, serve(t, srv), withClient(c)...))
	first, err := client.FullDuplexCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.FullDuplexCall(t.Context()); !errors.Is(err, bulkhead.ErrFull) || status.Code(err) != codes.Unavailable {
		t.Errorf("second stream: got %v, want bulkhead.ErrFull with Unavailable", err)
	}
	if err := first.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("first stream: got %v, want io.EOF", err)
	}
	third, err := client.FullDuplexCall(t.Context())
	if err != nil {
		t.Fatalf("third stream, after the first ended: %v", err)
	}
	_ = third.CloseSend()
	if _, err := third.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("third stream: got %v, want io.EOF", err)
	}
	if got, want := srv.nDuplex.Load(), int64(2); got != want {
		t.Errorf("server calls: got %d, want %d", got, want)
	}
}
