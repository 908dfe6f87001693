package keelgrpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// script says what the n-th call (1-based) of a method does: return an
// error (after setting trailers, if it wants), or nil to answer normally.
type script func(ctx context.Context, n int) error

// testServer is a TestService whose methods count their calls and follow a
// script.
type testServer struct {
	testpb.UnimplementedTestServiceServer

	unary, output, input, duplex script
	// unaryReq, if set, runs before unary with the request.
	unaryReq func(ctx context.Context, req *testpb.SimpleRequest) error
	// outputMsgs is how many messages StreamingOutputCall sends; failAfter,
	// when > 0, makes it fail with failErr after that many messages.
	outputMsgs int
	failAfter  int
	failErr    error

	nUnary, nEmpty, nOutput, nInput, nDuplex atomic.Int64

	mu        sync.Mutex
	deadlines []time.Time // the deadline each unary call saw (zero: none)
}

func (s *testServer) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	s.nEmpty.Add(1)
	return &testpb.Empty{}, nil
}

func (s *testServer) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	n := int(s.nUnary.Add(1))
	d, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadlines = append(s.deadlines, d)
	s.mu.Unlock()
	if s.unaryReq != nil {
		if err := s.unaryReq(ctx, req); err != nil {
			return nil, err
		}
	}
	if s.unary != nil {
		if err := s.unary(ctx, n); err != nil {
			return nil, err
		}
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

func (s *testServer) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	n := int(s.nOutput.Add(1))
	if s.output != nil {
		if err := s.output(stream.Context(), n); err != nil {
			return err
		}
	}
	for i := range s.outputMsgs {
		if s.failAfter > 0 && i == s.failAfter {
			return s.failErr
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte{byte(i)}}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *testServer) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	n := int(s.nInput.Add(1))
	total := 0
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		total += len(m.GetPayload().GetBody())
	}
	if s.input != nil {
		if err := s.input(stream.Context(), n); err != nil {
			return err
		}
	}
	return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
}

func (s *testServer) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	n := int(s.nDuplex.Add(1))
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if s.duplex != nil {
			if err := s.duplex(stream.Context(), n); err != nil {
				return err
			}
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: m.GetPayload()}); err != nil {
			return err
		}
	}
}

func (s *testServer) serverDeadlines() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.deadlines...)
}

// serve starts srv on 127.0.0.1 with the server options and returns its
// address. The server is stopped when the test ends.
func serve(t testing.TB, srv testpb.TestServiceServer, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(s, srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

// dial connects to addr with the dial options; the connection is closed when
// the test ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// withClient returns the dial options installing both interceptors of c.
func withClient(c interface {
	UnaryClientInterceptor() grpc.UnaryClientInterceptor
	StreamClientInterceptor() grpc.StreamClientInterceptor
}) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(c.StreamClientInterceptor()),
	}
}

// eventually polls cond until it holds or a second passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var errBoom = errors.New("boom")
