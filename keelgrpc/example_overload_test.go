package keelgrpc_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/shed"
)

// slowFirst answers its first call only when the call is canceled, and
// every later one at once.
type slowFirst struct {
	testpb.UnimplementedTestServiceServer
	n atomic.Int64
}

func (s *slowFirst) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.n.Add(1) == 1 {
		<-ctx.Done()
		return nil, status.Error(codes.Canceled, "lost to a hedge")
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// A unary method on the hedge list gets a second attempt after the delay;
// the second wins and the slow first one is canceled.
func ExampleClientConfig_hedge() {
	srv := &slowFirst{}
	addr, stop := startServer(srv)
	defer stop()

	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Hedge:        &hedge.Config{Delay: 10 * time.Millisecond, DisableBudget: true},
		HedgeMethods: []string{"/grpc.testing.TestService/UnaryCall"}, // idempotent
	})
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()))
	if err != nil {
		panic(err)
	}
	defer func() { _ = conn.Close() }()

	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(context.Background(),
		&testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hi")}})
	fmt.Println(string(resp.GetPayload().GetBody()), err, "hedges won:", c.Hedge().Wins())
	// Output: hi <nil> hedges won: 1
}

// A shedder as the server's admission policy refuses sheddable calls first;
// the client's context criticality travels as keel-criticality metadata.
func ExampleServerConfig_shedding() {
	sh := shed.MustNew(shed.Config{Capacity: 2}) // sheddable below 1 in flight
	held, _ := sh.AdmitClass(context.Background(), shed.Critical)
	defer held.Done()

	s := keelgrpc.MustNewServer(keelgrpc.ServerConfig{Admission: sh})
	srv := &flaky{}
	srv.n.Store(2) // past its failures: every call succeeds
	addr, stop := startServer(srv, grpc.ChainUnaryInterceptor(s.UnaryServerInterceptor()))
	defer stop()
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{})
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()))
	if err != nil {
		panic(err)
	}
	defer func() { _ = conn.Close() }()

	client := testpb.NewTestServiceClient(conn)
	for _, class := range []shed.Criticality{shed.Sheddable, shed.Critical} {
		_, err := client.UnaryCall(shed.WithCriticality(context.Background(), class), &testpb.SimpleRequest{})
		fmt.Println(class, status.Code(err))
	}
	// Output:
	// sheddable Unavailable
	// critical OK
}
