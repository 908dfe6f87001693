package keelhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/retry"
)

func unavailable(w http.ResponseWriter, n int) {
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = fmt.Fprintf(w, "overloaded #%d", n)
}

func TestPOSTWithoutKeyNotRetriedOnceSent(t *testing.T) {
	t.Run("503", func(t *testing.T) {
		s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) { unavailable(w, n) })
		c, _ := client(t, keelhttp.TransportConfig{})
		resp, err := c.Post(s.URL, "text/plain", strings.NewReader("pay 10"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := resp.StatusCode, 503; got != want {
			t.Errorf("status: got %d, want %d", got, want)
		}
		if got, want := readAll(t, resp), "overloaded #1"; got != want {
			t.Errorf("body: got %q, want %q", got, want)
		}
		if got, want := len(s.seen()), 1; got != want {
			t.Errorf("requests the server saw: got %d, want %d", got, want)
		}
	})
	t.Run("connection reset after the request was read", func(t *testing.T) {
		s := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		c, _ := client(t, keelhttp.TransportConfig{})
		resp, err := c.Post(s.URL, "text/plain", strings.NewReader("pay 10"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a %d response, want an error", resp.StatusCode)
		}
		if got, want := len(s.seen()), 1; got != want {
			t.Errorf("requests the server saw: got %d, want %d (err %v)", got, want, err)
		}
	})
}

func TestPOSTWithKeyRetriedWithSameKey(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			unavailable(w, n)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	c, _ := client(t, keelhttp.TransportConfig{})
	req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("pay 10"))
	req.Header.Set("Idempotency-Key", "key-1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if got, want := resp.StatusCode, http.StatusCreated; got != want {
		t.Errorf("status: got %d, want %d", got, want)
	}
	want := []seen{
		{Method: "POST", Key: "key-1", Body: "pay 10"},
		{Method: "POST", Key: "key-1", Body: "pay 10"},
		{Method: "POST", Key: "key-1", Body: "pay 10"},
	}
	if diff := cmp.Diff(want, s.seen()); diff != "" {
		t.Errorf("requests the server saw (-want +got):\n%s", diff)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestGeneratedIdempotencyKeys(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n%3 != 0 { // two failures, then a success, per logical request
			unavailable(w, n)
		}
	})
	c, _ := client(t, keelhttp.TransportConfig{IdempotencyKeys: true})
	for range 2 {
		req, _ := http.NewRequest(http.MethodPatch, s.URL, io.NopCloser(strings.NewReader("x=1")))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if got, want := resp.StatusCode, 200; got != want {
			t.Errorf("status: got %d, want %d", got, want)
		}
		if got := req.Header.Get("Idempotency-Key"); got != "" {
			t.Errorf("the caller's request was modified: it has key %q", got)
		}
	}
	got := s.seen()
	if len(got) != 6 {
		t.Fatalf("server saw %d requests, want 6", len(got))
	}
	for i, r := range got {
		if !uuidV4.MatchString(r.Key) {
			t.Errorf("request %d: key %q is not a version 4 UUID", i, r.Key)
		}
		if r.Body != "x=1" {
			t.Errorf("request %d: body %q, want %q (buffered and replayed)", i, r.Body, "x=1")
		}
	}
	if got[0].Key != got[1].Key || got[1].Key != got[2].Key || got[3].Key != got[4].Key || got[4].Key != got[5].Key {
		t.Errorf("keys changed between attempts of one request: %q", []string{got[0].Key, got[1].Key, got[2].Key, got[3].Key, got[4].Key, got[5].Key})
	}
	if got[0].Key == got[3].Key {
		t.Errorf("two requests got the same key %q", got[0].Key)
	}
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestRefusedConnectionRetriedForPOST(t *testing.T) {
	s := newServer(t, func(int, http.ResponseWriter, *http.Request) {})
	refused := closedAddr(t)
	dials := 0
	d := &net.Dialer{}
	base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		if dials == 1 {
			return d.DialContext(ctx, network, refused) // a real refused connection
		}
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(base.CloseIdleConnections)
	var rec keeltest.Recorder
	c, _ := client(t, keelhttp.TransportConfig{Base: base, Observer: &rec})
	resp, err := c.Post(s.URL, "text/plain", strings.NewReader("pay 10"))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if got, want := resp.StatusCode, 200; got != want {
		t.Errorf("status: got %d, want %d", got, want)
	}
	if diff := cmp.Diff([]seen{{Method: "POST", Body: "pay 10"}}, s.seen()); diff != "" {
		t.Errorf("requests the server saw (-want +got):\n%s", diff)
	}
	var attempts []string
	for _, e := range rec.Events() {
		if e.Kind == keel.EventAttempt {
			attempts = append(attempts, e.Outcome.String())
			if e.Err != nil {
				var oe *net.OpError
				if !errors.As(e.Err, &oe) || oe.Op != "dial" {
					t.Errorf("first attempt's error %v is not a dial error", e.Err)
				}
			}
		}
	}
	if diff := cmp.Diff([]string{"failure", "success"}, attempts); diff != "" {
		t.Errorf("attempt outcomes (-want +got):\n%s", diff)
	}
}

func TestLastResponseReturnedWhenRetriesRunOut(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Attempt", fmt.Sprint(n))
		unavailable(w, n)
	})
	c, _ := client(t, keelhttp.TransportConfig{Retry: retry.Config{MaxAttempts: 3}})
	resp, err := c.Get(s.URL)
	if err != nil {
		t.Fatalf("got error %v, want the last response", err)
	}
	got := fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("X-Attempt"), readAll(t, resp))
	if want := "503 3 overloaded #3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := len(s.seen()), 3; got != want {
		t.Errorf("requests the server saw: got %d, want %d", got, want)
	}
}

func TestLastResponseBodyLongerThanDrainLimit(t *testing.T) {
	big := strings.Repeat("x", 10_000)
	s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = fmt.Fprintf(w, "%d%s", n, big)
	})
	c, _ := client(t, keelhttp.TransportConfig{DrainLimit: 100})
	resp, err := c.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readAll(t, resp), "3"+big; got != want {
		t.Errorf("body: got %d bytes starting %q, want %d bytes starting %q", len(got), got[:min(len(got), 5)], len(want), want[:5])
	}
}

func TestNonRetryableStatusesReturnedAtOnce(t *testing.T) {
	for _, status := range []int{400, 404, 409, 500, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
			c, _ := client(t, keelhttp.TransportConfig{})
			resp, err := c.Get(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if got := len(s.seen()); resp.StatusCode != status || got != 1 {
				t.Errorf("got status %d after %d requests, want %d after 1", resp.StatusCode, got, status)
			}
		})
	}
}

func TestRetryStatusesConfigurable(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	c, _ := client(t, keelhttp.TransportConfig{RetryStatuses: []int{500}})
	resp, err := c.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if got := len(s.seen()); resp.StatusCode != 200 || got != 2 {
		t.Errorf("got status %d after %d requests, want 200 after 2", resp.StatusCode, got)
	}
}

// TestNoConnectionLeak sends many requests whose attempts fail with a body
// and checks that every discarded body was drained and closed: connections
// are reused, and none is left active on the server.
func TestNoConnectionLeak(t *testing.T) {
	t.Run("small bodies: connections reused", func(t *testing.T) {
		s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n%3 != 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(strings.Repeat("e", 4096)))
				return
			}
			_, _ = w.Write([]byte("ok"))
		})
		c, _ := client(t, keelhttp.TransportConfig{Retry: retry.Config{DisableBudget: true}, DisableBreaker: true})
		for i := range 50 {
			resp, err := c.Get(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Fatalf("request %d: body %.20q, want ok", i, got)
			}
		}
		if got := len(s.seen()); got != 150 {
			t.Errorf("server saw %d requests, want 150", got)
		}
		eventually(t, "no connection is active", func() bool { _, active := s.conns(); return active == 0 })
		if opened, _ := s.conns(); opened != 1 {
			t.Errorf("connections opened: got %d, want 1 (each discarded body drained, its connection reused)", opened)
		}
	})
	t.Run("bodies beyond the drain limit: connections closed, not leaked", func(t *testing.T) {
		huge := strings.Repeat("e", 4<<20) // more than socket buffers hold
		s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n%2 != 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(huge))
				return
			}
			_, _ = w.Write([]byte("ok"))
		})
		c, _ := client(t, keelhttp.TransportConfig{Retry: retry.Config{DisableBudget: true}, DisableBreaker: true})
		for i := range 10 {
			resp, err := c.Get(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Fatalf("request %d: body %.20q, want ok", i, got)
			}
		}
		eventually(t, "no connection is active", func() bool { _, active := s.conns(); return active == 0 })
	})
}

func TestBodyReplay(t *testing.T) {
	t.Run("no GetBody: buffered and sent again", func(t *testing.T) {
		s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n < 3 {
				w.WriteHeader(http.StatusBadGateway)
			}
		})
		c, _ := client(t, keelhttp.TransportConfig{})
		req, _ := http.NewRequest(http.MethodPut, s.URL, io.NopCloser(strings.NewReader("doc v2")))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		want := []seen{{Method: "PUT", Body: "doc v2"}, {Method: "PUT", Body: "doc v2"}, {Method: "PUT", Body: "doc v2"}}
		if diff := cmp.Diff(want, s.seen()); diff != "" {
			t.Errorf("requests the server saw (-want +got):\n%s", diff)
		}
	})
	t.Run("too long to buffer: sent once", func(t *testing.T) {
		s := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		c, _ := client(t, keelhttp.TransportConfig{MaxBufferedBody: 4})
		req, _ := http.NewRequest(http.MethodPut, s.URL, io.NopCloser(strings.NewReader("doc v2")))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if diff := cmp.Diff([]seen{{Method: "PUT", Body: "doc v2"}}, s.seen()); diff != "" {
			t.Errorf("requests the server saw (-want +got):\n%s", diff)
		}
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("status: got %d, want 502", resp.StatusCode)
		}
	})
}

func TestBreakerPerHost(t *testing.T) {
	failing := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	healthy := newServer(t, func(int, http.ResponseWriter, *http.Request) {})
	c, kt := client(t, keelhttp.TransportConfig{
		Retry:   retry.Config{MaxAttempts: 1},
		Breaker: breaker.GroupConfig{Breaker: breaker.Config{WindowSize: 4, MinimumCalls: 4}},
	})
	for range 4 {
		resp, err := c.Get(failing.URL)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
	}
	resp, err := c.Get(failing.URL)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("fifth request to the failing host: got %v, want breaker.ErrOpen", err)
	}
	if got := len(failing.seen()); got != 4 {
		t.Errorf("failing host saw %d requests, want 4", got)
	}
	if d, ok := keel.RetryAfter(err); !ok || d <= 0 {
		t.Errorf("open breaker's error: RetryAfter got %v, %v, want a positive hint", d, ok)
	}
	resp, err = c.Get(healthy.URL)
	if err != nil {
		t.Fatalf("healthy host: %v", err)
	}
	readAll(t, resp)
	host := strings.TrimPrefix(failing.URL, "http://")
	if got := kt.Breakers().Get(host).State(); got != breaker.Open {
		t.Errorf("breaker of %s: got %v, want open", host, got)
	}
}

func TestCallerRequestUntouched(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(503)
		}
	})
	c, _ := client(t, keelhttp.TransportConfig{
		Inject: func(_ context.Context, h http.Header) {
			h.Add("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	req.Header.Set("X-Mine", "1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if diff := cmp.Diff(http.Header{"X-Mine": {"1"}}, req.Header); diff != "" {
		t.Errorf("caller's headers changed (-want +got):\n%s", diff)
	}
	for i, r := range s.seen() {
		if r.Deadline == "" {
			t.Errorf("attempt %d carried no %s", i+1, keelhttp.DeadlineHeader)
		}
	}
}

type panicRT struct{}

func (panicRT) RoundTrip(*http.Request) (*http.Response, error) { panic("transport bug") }

func TestPanicInBaseReleasesBreakerPermit(t *testing.T) {
	kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:    panicRT{},
		Retry:   retry.Config{MaxAttempts: 1},
		Breaker: breaker.GroupConfig{Breaker: breaker.Config{WindowSize: 1, MinimumCalls: 1}},
	})
	req, _ := http.NewRequest(http.MethodGet, "http://svc.test/", nil)
	func() {
		defer func() {
			if v := recover(); v != "transport bug" {
				t.Errorf("recovered %v, want the base RoundTripper's panic", v)
			}
		}()
		resp, _ := kt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
	}()
	if got := kt.Breakers().Get("svc.test").Metrics(); got.Calls != 1 || got.Failures != 1 || got.State != breaker.Open {
		t.Errorf("breaker after a panicking attempt: got %d calls, %d failures, %v; want 1, 1, open", got.Calls, got.Failures, got.State)
	}
}
