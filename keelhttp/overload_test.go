package keelhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/retry"
)

// hedgeServer answers its first request only when that request's context
// ends (the client canceled it) and every later one at once with a 64 KiB
// body that names the request.
type hedgeServer struct {
	mu       sync.Mutex
	keys     []string
	canceled chan struct{}
}

func newHedgeServer(t *testing.T) (*hedgeServer, *server) {
	hs := &hedgeServer{canceled: make(chan struct{}, 1)}
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		hs.keys = append(hs.keys, r.Header.Get(keelhttp.IdempotencyKeyHeader))
		hs.mu.Unlock()
		if n == 1 {
			select {
			case <-r.Context().Done():
				hs.canceled <- struct{}{}
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.Header().Set("X-Request", "hedge")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, strings.Repeat("h", 64<<10))
	})
	return hs, s
}

func hedgeTransport(t *testing.T, cfg keelhttp.TransportConfig) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg.Base = tr
	cfg.Hedge = &hedge.Config{Delay: 20 * time.Millisecond, DisableBudget: true}
	cfg.Retry = retry.Config{MaxAttempts: 1}
	return &http.Client{Transport: keelhttp.MustNewTransport(cfg)}
}

func TestTransportHedgeSendsOneKeyAndKeepsTheWinnersBody(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		key    string // the caller's own Idempotency-Key
		keys   bool   // TransportConfig.IdempotencyKeys
	}{
		{"GET", http.MethodGet, "", false},
		{"POST with the caller's key", http.MethodPost, "order-42", false},
		{"POST with a generated key", http.MethodPost, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, s := newHedgeServer(t)
			client := hedgeTransport(t, keelhttp.TransportConfig{IdempotencyKeys: tc.keys})
			req, _ := http.NewRequest(tc.method, s.URL, strings.NewReader("payload"))
			if tc.key != "" {
				req.Header.Set(keelhttp.IdempotencyKeyHeader, tc.key)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body) // the winner's body outlives the hedged call
			resp.Body.Close()
			if err != nil || len(body) != 64<<10 || resp.Header.Get("X-Request") != "hedge" {
				t.Fatalf("got %d bytes, err %v, X-Request %q; want 65536 bytes from the hedge", len(body), err, resp.Header.Get("X-Request"))
			}
			select {
			case <-hs.canceled:
			case <-time.After(5 * time.Second):
				t.Fatal("the losing first attempt was not canceled")
			}
			hs.mu.Lock()
			keys := hs.keys
			hs.mu.Unlock()
			if len(keys) != 2 || keys[0] != keys[1] || (tc.method == http.MethodPost && keys[0] == "") {
				t.Errorf("keys seen by the server: got %q, want two equal keys (non-empty for POST)", keys)
			}
			if tc.key != "" && keys[0] != tc.key {
				t.Errorf("key: got %q, want the caller's %q", keys[0], tc.key)
			}
			s.mu.Lock()
			for _, r := range s.reqs {
				if r.Body != "payload" {
					t.Errorf("body seen by the server: got %q, want %q", r.Body, "payload")
				}
			}
			s.mu.Unlock()
		})
	}
}

func TestTransportDoesNotHedgeUnsafeRequests(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // well past the hedge delay
	})
	client := hedgeTransport(t, keelhttp.TransportConfig{})
	resp, err := client.Post(s.URL, "text/plain", strings.NewReader("once"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.mu.Lock()
	n := len(s.reqs)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("requests seen for a POST without a key: got %d, want 1", n)
	}
}

func TestTransportThrottle(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:     tr,
		Retry:    retry.Config{MaxAttempts: 1},
		Throttle: &limit.ThrottlerConfig{Rand: func() float64 { return 0.5 }},
	})
	client := &http.Client{Transport: kt}
	// Nothing is accepted, so the probability of request n (counting from
	// 0) is n/(n+1): 0 and 1/2 let a draw of 0.5 through, 2/3 does not.
	var got []string
	for range 3 {
		resp, err := client.Get(s.URL)
		switch {
		case err != nil && errors.Is(err, limit.ErrThrottled) && errors.Is(err, keel.ErrRejected):
			got = append(got, "throttled")
		case err != nil:
			got = append(got, "error: "+err.Error())
		default:
			resp.Body.Close()
			got = append(got, resp.Status)
		}
	}
	want := []string{"503 Service Unavailable", "503 Service Unavailable", "throttled"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if req, acc := kt.Throttler().Counts(time.Now()); req != 3 || acc != 0 {
		t.Errorf("Counts: got %d requests, %d accepts; want 3, 0", req, acc)
	}
}

func TestTransportLimit(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			entered <- struct{}{}
			<-release
		}
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:  tr,
		Limit: &limit.Config{InitialLimit: 1, MinLimit: 1, MaxLimit: 1},
	})
	client := &http.Client{Transport: kt}
	done := make(chan error, 1)
	go func() {
		resp, err := client.Get(s.URL)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	resp, err := client.Get(s.URL)
	if err == nil {
		resp.Body.Close()
	}
	if le, ok := errors.AsType[*limit.LimitedError](err); !ok || le.Limit != 1 || le.InFlight != 1 {
		t.Errorf("second request: got %v, want a *limit.LimitedError with Limit 1, InFlight 1", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first request: %v", err)
	}
	if got := kt.Limiter().InFlight(); got != 0 {
		t.Errorf("InFlight after both: got %d, want 0", got)
	}
	s.mu.Lock()
	n := len(s.reqs)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("requests seen by the server: got %d, want 1 (the refused one is not sent or retried)", n)
	}
}

func TestTransportConfigOverloadValidate(t *testing.T) {
	always := func(context.Context, error) keel.Outcome { return keel.OutcomeFailure }
	for _, tc := range []struct {
		cfg  keelhttp.TransportConfig
		want string
	}{
		{keelhttp.TransportConfig{Hedge: &hedge.Config{MaxHedges: 99}}, "keelhttp: TransportConfig.Hedge: "},
		{keelhttp.TransportConfig{Throttle: &limit.ThrottlerConfig{Classifier: always}}, "keelhttp: TransportConfig.Throttle.Classifier must be nil"},
		{keelhttp.TransportConfig{Throttle: &limit.ThrottlerConfig{K: 0.5}}, "keelhttp: TransportConfig.Throttle: "},
		{keelhttp.TransportConfig{Limit: &limit.Config{Classifier: always}}, "keelhttp: TransportConfig.Limit.Classifier must be nil"},
		{keelhttp.TransportConfig{Limit: &limit.Config{MinLimit: 5, MaxLimit: 2}}, "keelhttp: TransportConfig.Limit: "},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Validate: got %v, want an error starting %q", err, tc.want)
		}
	}
}

func overloadConfigs() []struct {
	name string
	cfg  keelhttp.TransportConfig
} {
	return []struct {
		name string
		cfg  keelhttp.TransportConfig
	}{
		{"throttle", keelhttp.TransportConfig{Throttle: &limit.ThrottlerConfig{}}},
		{"limit", keelhttp.TransportConfig{Limit: &limit.Config{}}},
		{"throttle+limit", keelhttp.TransportConfig{Throttle: &limit.ThrottlerConfig{}, Limit: &limit.Config{}}},
	}
}

func TestTransportOverloadAllocations(t *testing.T) {
	for _, tc := range overloadConfigs() {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Base = newStatic()
			kt := keelhttp.MustNewTransport(tc.cfg)
			req, _ := http.NewRequest(http.MethodGet, "http://svc.test/x", nil)
			got := testing.AllocsPerRun(1000, func() {
				resp, err := kt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			})
			if got != 0 {
				t.Errorf("allocations per request: got %v, want 0", got)
			}
		})
	}
}

func BenchmarkTransportOverload(b *testing.B) {
	for _, bc := range overloadConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			bc.cfg.Base = newStatic()
			kt := keelhttp.MustNewTransport(bc.cfg)
			req, _ := http.NewRequest(http.MethodGet, "http://svc.test/x", nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := kt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			bc.cfg.Base = newStatic()
			kt := keelhttp.MustNewTransport(bc.cfg)
			req, _ := http.NewRequest(http.MethodGet, "http://svc.test/x", nil)
			// Warm the throttler up: before its first accepts, concurrent
			// requests in flight alone give it a rejection probability.
			for range 100 {
				resp, err := kt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := kt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
		})
	}
}

func BenchmarkTransportHedge(b *testing.B) {
	// The first attempt answers at once, so no hedge is sent: the cost of
	// the hedged path itself (its goroutine, timer and contexts).
	kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: newStatic(), Hedge: &hedge.Config{Delay: time.Hour}})
	req, _ := http.NewRequest(http.MethodGet, "http://svc.test/x", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := kt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
