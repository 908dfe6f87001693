package keelhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
)

// A GET that meets two 503s is retried, and the caller sees only the final
// answer.
func ExampleTransport() {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n++
		if n < 3 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:  base,
		Retry: retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(10 * time.Millisecond)},
	})}
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", n, "attempts")
	// Output: 200 ok after 3 attempts
}

// When the retries run out, the caller gets the last response, body
// included, not an opaque error.
func ExampleTransport_lastResponse() {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n++
		http.Error(w, fmt.Sprintf("queue full (attempt %d)", n), http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:  base,
		Retry: retry.Config{MaxAttempts: 2, Backoff: backoff.Constant(0)},
	})}
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output: 503 queue full (attempt 2)
}

// With IdempotencyKeys on, a POST gets one key that every attempt carries,
// so the server can apply it once.
func ExampleTransportConfig_idempotencyKeys() {
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if len(keys) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:            base,
		IdempotencyKeys: true,
		Retry:           retry.Config{Backoff: backoff.Constant(0)},
	})}
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader(`{"amount":10}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, len(keys), "attempts, same key:", keys[0] == keys[1])
	// Output: 201 2 attempts, same key: true
}

// The middleware answers a panic with a problem+json 500.
func ExampleMiddleware() {
	m := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{})
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("bug")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/orders/7", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Print(w.Body.String())
	// Output:
	// 500 application/problem+json
	// {"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error","instance":"/orders/7","flag":"PANIC"}
}

// Admission control: a rate limiter in front of the handler answers 429 with
// Retry-After once its tokens are spent, and the access log says why.
func ExampleMiddlewareConfig_admission() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{} // keep the output deterministic
			}
			return a
		},
	}))
	h, _ := keelhttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, "hi")
	}), keelhttp.MiddlewareConfig{
		Admission: ratelimit.MustNew(ratelimit.Config{Rate: 0.5, Burst: 1}),
		Logger:    logger,
	})
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hello", nil))
		fmt.Printf("-> %d Retry-After=%q\n", w.Code, w.Header().Get("Retry-After"))
	}
	// Output:
	// level=INFO msg="http request" method=GET path=/hello status=200 bytes=2 flag=-
	// -> 200 Retry-After=""
	// level=INFO msg="http request" method=GET path=/hello status=429 bytes=144 flag=RL
	// -> 429 Retry-After="2"
}

// StatusOf is the one mapping from errors to HTTP statuses.
func ExampleStatusOf() {
	for _, err := range []error{
		&breaker.OpenError{State: breaker.Open, Remaining: 1500 * time.Millisecond},
		&bulkhead.RejectedError{Name: "db"},
		&ratelimit.LimitedError{Delay: 300 * time.Millisecond},
		context.DeadlineExceeded,
		context.Canceled,
		errors.New("something else"),
	} {
		status, retryAfter, flag := keelhttp.StatusOf(err)
		fmt.Println(status, retryAfter, flag)
	}
	// Output:
	// 503 2s UO
	// 503 1s UO
	// 429 1s RL
	// 504 0s UT
	// 499 0s DC
	// 500 0s
}

func ExampleWriteError() {
	w := httptest.NewRecorder()
	keelhttp.WriteError(w, nil, &breaker.OpenError{State: breaker.Open, Remaining: 30 * time.Second})
	fmt.Println(w.Code, "Retry-After:", w.Header().Get("Retry-After"))
	fmt.Print(w.Body.String())
	// Output:
	// 503 Retry-After: 30
	// {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the service is overloaded; try again later","flag":"UO"}
}

func ExampleWriteProblem() {
	w := httptest.NewRecorder()
	keelhttp.WriteProblem(w, keelhttp.Problem{
		Type:   "https://example.com/problems/out-of-credit",
		Status: http.StatusForbidden,
		Detail: "Your balance is 30, but that costs 50.",
	}, 0)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 403 {"type":"https://example.com/problems/out-of-credit","title":"Forbidden","status":403,"detail":"Your balance is 30, but that costs 50."}
}

func ExampleParseRetryAfter() {
	date := time.Date(2026, time.November, 27, 8, 0, 0, 0, time.UTC) // the response's Date header
	for _, v := range []string{"120", "Fri, 27 Nov 2026 08:00:30 GMT", "soon"} {
		d, ok := keelhttp.ParseRetryAfter(v, date)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 30s true
	// 0s false
}

func ExampleRetryAfterOf() {
	resp := &http.Response{Header: http.Header{
		"Date":        {"Fri, 27 Nov 2026 08:00:00 GMT"},
		"Retry-After": {"Fri, 27 Nov 2026 08:00:45 GMT"},
	}}
	d, ok := keelhttp.RetryAfterOf(resp, time.Now()) // measured from Date, not from our clock
	fmt.Println(d, ok)
	// Output: 45s true
}

func ExampleNewIdempotencyKey() {
	k := keelhttp.NewIdempotencyKey()
	fmt.Println(len(k), k[14:15], strings.Count(k, "-"))
	// Output: 36 4 4
}
