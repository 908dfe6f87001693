package keelgrpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/shed"
)

const unaryMethod = "/grpc.testing.TestService/UnaryCall"

func TestCriticalityReachesTheHandler(t *testing.T) {
	got := make(chan shed.Criticality, 1)
	srv := &testServer{unary: func(ctx context.Context, n int) error {
		got <- shed.CriticalityFrom(ctx)
		return nil
	}}
	addr := serve(t, srv, withServer(keelgrpc.MustNewServer(keelgrpc.ServerConfig{}))...)
	plain := testpb.NewTestServiceClient(dial(t, addr))
	viaKeel := testpb.NewTestServiceClient(dial(t, addr, withClient(keelgrpc.MustNewClient(keelgrpc.ClientConfig{}))...))
	for _, tc := range []struct {
		name   string
		client testpb.TestServiceClient
		ctx    context.Context
		want   shed.Criticality
	}{
		{"none", plain, context.Background(), shed.Default},
		{"metadata critical", plain, metadata.AppendToOutgoingContext(context.Background(), keelgrpc.CriticalityKey, "critical"), shed.Critical},
		{"metadata Sheddable_Plus", plain, metadata.AppendToOutgoingContext(context.Background(), keelgrpc.CriticalityKey, "Sheddable_Plus"), shed.Sheddable},
		{"metadata unknown", plain, metadata.AppendToOutgoingContext(context.Background(), keelgrpc.CriticalityKey, "vip"), shed.Default},
		{"client context critical", viaKeel, shed.WithCriticality(context.Background(), shed.Critical), shed.Critical},
		{"client context sheddable", viaKeel, shed.WithCriticality(context.Background(), shed.Sheddable), shed.Sheddable},
		{"caller's metadata wins", viaKeel, metadata.AppendToOutgoingContext(shed.WithCriticality(context.Background(), shed.Sheddable), keelgrpc.CriticalityKey, "critical"), shed.Critical},
	} {
		if _, err := tc.client.UnaryCall(tc.ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c := <-got; c != tc.want {
			t.Errorf("%s: got criticality %v, want %v", tc.name, c, tc.want)
		}
	}
}

// TestServerShedsByCriticality fills a shedder of capacity 4 (sheddable
// below 2 in flight, default below 3, critical below 4) with blocked calls
// and checks which classes still get in, for a shedder alone and chained
// with an adaptive limiter.
func TestServerShedsByCriticality(t *testing.T) {
	for _, tc := range []struct {
		name      string
		admission func(*shed.Shedder) keel.Policy
	}{
		{"shedder", func(s *shed.Shedder) keel.Policy { return s }},
		{"chain of shedder and limiter", func(s *shed.Shedder) keel.Policy {
			return keel.Chain(s, limit.MustNew(limit.Config{InitialLimit: 10, MinLimit: 10, MaxLimit: 10}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := shed.MustNew(shed.Config{Capacity: 4, RetryAfter: 2 * time.Second})
			release := make(chan struct{})
			entered := make(chan struct{}, 4)
			srv := &testServer{unaryReq: func(ctx context.Context, req *testpb.SimpleRequest) error {
				if req.GetResponseSize() == 1 { // "block"
					entered <- struct{}{}
					<-release
				}
				return nil
			}}
			addr := serve(t, srv, withServer(keelgrpc.MustNewServer(keelgrpc.ServerConfig{Admission: tc.admission(sh)}))...)
			client := testpb.NewTestServiceClient(dial(t, addr, withClient(keelgrpc.MustNewClient(keelgrpc.ClientConfig{}))...))
			call := func(c shed.Criticality, block bool) (codes.Code, string) {
				req := &testpb.SimpleRequest{}
				if block {
					req.ResponseSize = 1
				}
				var trailer metadata.MD
				_, err := client.UnaryCall(shed.WithCriticality(context.Background(), c), req, grpc.Trailer(&trailer))
				return status.Code(err), strings.Join(trailer.Get(keelgrpc.PushbackKey), ",")
			}
			done := make(chan codes.Code, 3)
			block := func() {
				go func() { code, _ := call(shed.Critical, true); done <- code }()
				<-entered
			}
			type probe struct {
				Class    shed.Criticality
				Code     codes.Code
				Pushback string
			}
			check := func(inFlight int, want []probe) {
				t.Helper()
				var got []probe
				for _, p := range want {
					code, pb := call(p.Class, false)
					got = append(got, probe{p.Class, code, pb})
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("with %d in flight (-want +got):\n%s", inFlight, diff)
				}
			}
			block()
			check(1, []probe{{shed.Sheddable, codes.OK, ""}, {shed.Default, codes.OK, ""}, {shed.Critical, codes.OK, ""}})
			block()
			check(2, []probe{{shed.Sheddable, codes.Unavailable, "2000"}, {shed.Default, codes.OK, ""}, {shed.Critical, codes.OK, ""}})
			block()
			check(3, []probe{{shed.Sheddable, codes.Unavailable, "2000"}, {shed.Default, codes.Unavailable, "2000"}, {shed.Critical, codes.OK, ""}})
			close(release)
			for range 3 {
				if code := <-done; code != codes.OK {
					t.Errorf("blocked critical call: got %v, want OK", code)
				}
			}
			if got := [3]uint64{sh.Shed(shed.Sheddable), sh.Shed(shed.Default), sh.Shed(shed.Critical)}; got != [3]uint64{2, 1, 0} {
				t.Errorf("shed by class (sheddable, default, critical): got %v, want [2 1 0]", got)
			}
		})
	}
}

func TestClientHedgesListedMethods(t *testing.T) {
	canceled := make(chan struct{}, 1)
	srv := &testServer{unary: func(ctx context.Context, n int) error {
		if n == 1 {
			select {
			case <-ctx.Done():
				canceled <- struct{}{}
			case <-time.After(10 * time.Second):
			}
			return status.Error(codes.Canceled, "first attempt")
		}
		return nil
	}}
	addr := serve(t, srv)
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Hedge:        &hedge.Config{Delay: 20 * time.Millisecond, DisableBudget: true},
		HedgeMethods: []string{unaryMethod},
	})
	client := testpb.NewTestServiceClient(dial(t, addr, withClient(c)...))
	resp, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hedged")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.GetPayload().GetBody()); got != "hedged" {
		t.Errorf("reply payload: got %q, want %q (the hedge's reply)", got, "hedged")
	}
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the losing first attempt was not canceled")
	}
	if got := srv.nUnary.Load(); got != 2 {
		t.Errorf("calls seen by the server: got %d, want 2", got)
	}
	if got := c.Hedge().Wins(); got != 1 {
		t.Errorf("Wins: got %d, want 1", got)
	}
}

func TestClientDoesNotHedgeOtherMethods(t *testing.T) {
	srv := &testServer{unary: func(ctx context.Context, n int) error {
		time.Sleep(100 * time.Millisecond) // well past the hedge delay
		return nil
	}}
	addr := serve(t, srv)
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Hedge:        &hedge.Config{Delay: 10 * time.Millisecond, DisableBudget: true},
		HedgeMethods: []string{"/grpc.testing.TestService/EmptyCall"},
		HedgeIf:      func(m string) bool { return strings.HasSuffix(m, "/Get") },
	})
	client := testpb.NewTestServiceClient(dial(t, addr, withClient(c)...))
	if _, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := srv.nUnary.Load(); got != 1 {
		t.Errorf("calls seen by the server: got %d, want 1", got)
	}
}

func TestClientConfigHedgeValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  keelgrpc.ClientConfig
		want string
	}{
		{keelgrpc.ClientConfig{Hedge: &hedge.Config{}}, "keelgrpc: ClientConfig.Hedge needs HedgeMethods or HedgeIf"},
		{keelgrpc.ClientConfig{Hedge: &hedge.Config{MaxHedges: 99}, HedgeMethods: []string{unaryMethod}}, "keelgrpc: ClientConfig.Hedge: "},
		{keelgrpc.ClientConfig{HedgeMethods: []string{"UnaryCall"}}, `keelgrpc: ClientConfig.HedgeMethods[0] "UnaryCall" is not a full method name`},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Validate: got %v, want an error starting %q", err, tc.want)
		}
	}
}
