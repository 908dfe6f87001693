package keelhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/shed"
)

func TestStatusOfOverload(t *testing.T) {
	type result struct {
		Status     int
		RetryAfter time.Duration
		Flag       string
	}
	for _, tc := range []struct {
		name string
		err  error
		want result
	}{
		{"shed with hint", &shed.RejectedError{Criticality: shed.Sheddable, After: 2500 * time.Millisecond}, result{503, 3 * time.Second, keelhttp.FlagOverflow}},
		{"shed sentinel", shed.ErrShed, result{503, time.Second, keelhttp.FlagOverflow}},
		{"limited", &limit.LimitedError{Reason: keel.ReasonLimit, Limit: 4, InFlight: 4}, result{503, time.Second, keelhttp.FlagOverflow}},
		{"limited sentinel", limit.ErrLimited, result{503, time.Second, keelhttp.FlagOverflow}},
		{"throttled", &limit.ThrottledError{Probability: 0.5}, result{503, time.Second, keelhttp.FlagOverflow}},
		{"wrapped throttled", fmt.Errorf("call: %w", limit.ErrThrottled), result{503, time.Second, keelhttp.FlagOverflow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got result
			got.Status, got.RetryAfter, got.Flag = keelhttp.StatusOf(tc.err)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("StatusOf(%v) (-want +got):\n%s", tc.err, diff)
			}
		})
	}
}

func TestMiddlewareCriticalityInContext(t *testing.T) {
	for _, tc := range []struct {
		header string // "" sends no header
		want   shed.Criticality
	}{
		{"", shed.Default},
		{"critical", shed.Critical},
		{" Sheddable ", shed.Sheddable},
		{"SHEDDABLE_PLUS", shed.Sheddable},
		{"critical_plus", shed.Critical},
		{"default", shed.Default},
		{"urgent!", shed.Default}, // unknown: Default, not an error
	} {
		var got shed.Criticality
		s := serve(t, keelhttp.MiddlewareConfig{}, func(w http.ResponseWriter, r *http.Request) {
			got = shed.CriticalityFrom(r.Context())
		})
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		if tc.header != "" {
			req.Header.Set(keelhttp.CriticalityHeader, tc.header)
		}
		resp, err := plainClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || got != tc.want {
			t.Errorf("header %q: got status %d, criticality %v; want 200, %v", tc.header, resp.StatusCode, got, tc.want)
		}
	}
}

// TestMiddlewareShedsByCriticality fills a shedder of capacity 4 (sheddable
// below 2 in flight, default below 3, critical below 4) with blocked
// requests over a real server, and checks which classes still get in.
func TestMiddlewareShedsByCriticality(t *testing.T) {
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
			entered := make(chan struct{}, 8)
			srv := serve(t, keelhttp.MiddlewareConfig{Admission: tc.admission(sh)}, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/block" {
					entered <- struct{}{}
					<-release
				}
			})
			client := plainClient(t)
			get := func(path, class string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				if class != "" {
					req.Header.Set(keelhttp.CriticalityHeader, class)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					return 0, ""
				}
				resp.Body.Close()
				return resp.StatusCode, resp.Header.Get("Retry-After")
			}
			var wg sync.WaitGroup
			block := func(n int) {
				for range n {
					wg.Go(func() {
						if status, _ := get("/block", "critical"); status != http.StatusOK {
							t.Errorf("blocked critical request: got %d, want 200", status)
						}
					})
					<-entered
				}
			}
			type probe struct {
				Class      string
				Status     int
				RetryAfter string
			}
			check := func(inFlight int, want []probe) {
				t.Helper()
				var got []probe
				for _, p := range want {
					status, ra := get("/", p.Class)
					got = append(got, probe{p.Class, status, ra})
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("with %d in flight (-want +got):\n%s", inFlight, diff)
				}
			}
			block(1)
			check(1, []probe{{"sheddable", 200, ""}, {"", 200, ""}, {"critical", 200, ""}})
			block(1)
			check(2, []probe{{"sheddable", 503, "2"}, {"", 200, ""}, {"default", 200, ""}, {"critical", 200, ""}})
			block(1)
			check(3, []probe{{"sheddable", 503, "2"}, {"", 503, "2"}, {"bogus", 503, "2"}, {"critical", 200, ""}})
			close(release)
			wg.Wait()
			if got, want := sh.Shed(shed.Sheddable), uint64(2); got != want {
				t.Errorf("Shed(Sheddable): got %d, want %d", got, want)
			}
			if got, want := sh.Shed(shed.Default), uint64(2); got != want {
				t.Errorf("Shed(Default): got %d, want %d", got, want)
			}
			if got := sh.Shed(shed.Critical); got != 0 {
				t.Errorf("Shed(Critical): got %d, want 0", got)
			}
		})
	}
}

func TestTransportSendsCriticality(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	srv := serve(t, keelhttp.MiddlewareConfig{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get(keelhttp.CriticalityHeader)+"/"+shed.CriticalityFrom(r.Context()).String())
		mu.Unlock()
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: tr})}
	for _, tc := range []struct {
		ctx    context.Context
		header string
	}{
		{context.Background(), ""},
		{shed.WithCriticality(context.Background(), shed.Critical), ""},
		{shed.WithCriticality(context.Background(), shed.Sheddable), ""},
		{shed.WithCriticality(context.Background(), shed.Default), ""},
		{shed.WithCriticality(context.Background(), shed.Sheddable), "critical"}, // the caller's header wins
	} {
		req, _ := http.NewRequestWithContext(tc.ctx, http.MethodGet, srv.URL, nil)
		if tc.header != "" {
			req.Header.Set(keelhttp.CriticalityHeader, tc.header)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{"/default", "critical/critical", "sheddable/sheddable", "/default", "critical/critical"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("header/criticality seen by the server (-want +got):\n%s", diff)
	}
}
