package keelgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
)

// startServer serves srv on 127.0.0.1 and returns its address and a function
// that stops it.
func startServer(srv testpb.TestServiceServer, opts ...grpc.ServerOption) (string, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(s, srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	return lis.Addr().String(), func() {
		s.Stop()
		<-done
	}
}

// flaky fails its first two calls with Unavailable.
type flaky struct {
	testpb.UnimplementedTestServiceServer
	n atomic.Int64
}

func (f *flaky) calls() int64 { return f.n.Load() }

func (f *flaky) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if f.n.Add(1) <= 2 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testpb.SimpleResponse{}, nil
}

func (f *flaky) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	if f.n.Add(1) <= 2 {
		return status.Error(codes.Unavailable, "warming up")
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(s)}}); err != nil {
			return err
		}
	}
	return nil
}

func ExampleNewClient() {
	srv := &flaky{}
	addr, stop := startServer(srv)
	defer stop()

	c, err := keelgrpc.NewClient(keelgrpc.ClientConfig{
		Name:    "testservice",
		Retry:   &retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(10 * time.Millisecond)},
		Breaker: &breaker.Config{},
		Timeout: time.Second, // per attempt
	})
	if err != nil {
		panic(err)
	}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(c.StreamClientInterceptor()))
	if err != nil {
		panic(err)
	}
	defer func() { _ = conn.Close() }()

	_, err = testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{})
	fmt.Println("calls:", srv.calls(), "error:", err)
	// Output: calls: 3 error: <nil>
}

func ExampleClient_StreamClientInterceptor() {
	srv := &flaky{}
	addr, stop := startServer(srv)
	defer stop()

	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Retry: &retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(10 * time.Millisecond)},
	})
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainStreamInterceptor(c.StreamClientInterceptor()))
	if err != nil {
		panic(err)
	}
	defer func() { _ = conn.Close() }()

	// The stream fails twice before its first message: it is opened again,
	// and the caller only sees the messages of the third attempt.
	stream, err := testpb.NewTestServiceClient(conn).StreamingOutputCall(context.Background(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		panic(err)
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Print(string(m.GetPayload().GetBody()), " ")
	}
	fmt.Println("after", srv.calls(), "calls")
	// Output: a b c after 3 calls
}

// UnaryClientInterceptor builds a Client for one interceptor. Here a breaker
// opens after two failures and then rejects calls without reaching the
// server.
func ExampleUnaryClientInterceptor() {
	srv := &flaky{}
	addr, stop := startServer(srv)
	defer stop()

	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(keelgrpc.UnaryClientInterceptor(keelgrpc.ClientConfig{
			Breaker: &breaker.Config{WindowSize: 2, MinimumCalls: 2, OpenDuration: time.Minute},
		})))
	if err != nil {
		panic(err)
	}
	defer func() { _ = conn.Close() }()
	client := testpb.NewTestServiceClient(conn)
	for range 3 {
		_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
		fmt.Println(status.Code(err), errors.Is(err, breaker.ErrOpen))
	}
	fmt.Println("server calls:", srv.calls())
	// Output:
	// Unavailable false
	// Unavailable false
	// Unavailable true
	// server calls: 2
}

// A server admits calls through a rate limiter. A rejected call gets
// ResourceExhausted and the limiter's wait as grpc-retry-pushback-ms.
func ExampleNewServer() {
	s, err := keelgrpc.NewServer(keelgrpc.ServerConfig{
		Admission: ratelimit.MustNew(ratelimit.Config{Rate: 0.5, Burst: 1}), // a call every 2s
	})
	if err != nil {
		panic(err)
	}
	healthy := &flaky{}
	healthy.n.Store(2) // past its failures
	addr, stop := startServer(healthy,
		grpc.ChainUnaryInterceptor(s.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(s.StreamServerInterceptor()))
	defer stop()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer func() { _ = conn.Close() }()
	client := testpb.NewTestServiceClient(conn)

	for range 2 {
		var trailer metadata.MD
		_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
		pushback := "none"
		if vs := trailer.Get(keelgrpc.PushbackKey); len(vs) == 1 {
			d, _ := keelgrpc.ParsePushback(vs[0])
			pushback = d.Round(time.Second).String()
		}
		fmt.Println(status.Code(err), "pushback:", pushback)
	}
	// Output:
	// OK pushback: none
	// ResourceExhausted pushback: 2s
}

func ExampleCodeOf() {
	fmt.Println(keelgrpc.CodeOf(nil))
	fmt.Println(keelgrpc.CodeOf(&breaker.OpenError{State: breaker.Open}))
	fmt.Println(keelgrpc.CodeOf(&ratelimit.LimitedError{Delay: time.Second}))
	fmt.Println(keelgrpc.CodeOf(context.DeadlineExceeded))
	fmt.Println(keelgrpc.CodeOf(status.Error(codes.NotFound, "no such user")))
	// Output:
	// OK
	// Unavailable
	// ResourceExhausted
	// DeadlineExceeded
	// NotFound
}

func ExampleParsePushback() {
	for _, v := range []string{"250", "0", "-1", "later"} {
		d, ok := keelgrpc.ParsePushback(v)
		fmt.Printf("%q: retry=%v after %v\n", v, ok, d)
	}
	// Output:
	// "250": retry=true after 250ms
	// "0": retry=true after 0s
	// "-1": retry=false after 0s
	// "later": retry=false after 0s
}

func ExampleFormatPushback() {
	fmt.Println(keelgrpc.FormatPushback(1500 * time.Millisecond))
	fmt.Println(keelgrpc.FormatPushback(100 * time.Microsecond)) // rounded up
	// Output:
	// 1500
	// 1
}

// NewClassifier makes a classifier with more retryable codes; here Aborted
// (a transaction conflict the server says is safe to retry) joins
// Unavailable.
func ExampleNewClassifier() {
	classify := keelgrpc.NewClassifier(codes.Unavailable, codes.Aborted)
	ctx := context.Background()
	fmt.Println(classify(ctx, status.Error(codes.Aborted, "conflict")))
	fmt.Println(classify(ctx, status.Error(codes.InvalidArgument, "bad id")))
	fmt.Println(keelgrpc.ClassifyBreaker(ctx, status.Error(codes.InvalidArgument, "bad id")))
	fmt.Println(keel.OutcomeNeutral == keelgrpc.Classify(canceled(), status.Error(codes.Canceled, "")))
	// Output:
	// failure
	// permanent
	// success
	// true
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
