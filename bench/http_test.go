package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
)

// httpGET is the HTTP client path: one GET over loopback to an httptest
// server that answers 200 "ok", through each library's retrying client, with
// a retry policy (3 attempts) and, where the library has one, a circuit
// breaker. The first attempt always succeeds, so the figures are the cost a
// library adds to every healthy request. Every contender uses its own
// http.Transport with the same settings.
var httpGET []contender

func BenchmarkHTTPGet(b *testing.B) { runAll(b, httpGET) }

func init() {
	httpGET = append(httpGET,
		contender{"bare", benchHTTPBare},
		contender{"failsafehttp", benchHTTPFailsafe},
		contender{"retryablehttp", benchHTTPRetryable},
	)
}

// httpServer starts the loopback server of the HTTP path; the caller closes
// it.
func httpServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
}

// newBaseTransport returns the http.Transport every contender sends through.
func newBaseTransport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}
}

// runHTTPGet measures GETs of url through c, reading and closing each body.
func runHTTPGet(b *testing.B, c *http.Client, url string) {
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("got status %d, want 200", resp.StatusCode)
		}
	}
}

func benchHTTPBare(b *testing.B) {
	srv := httpServer()
	defer srv.Close()
	base := newBaseTransport()
	defer base.CloseIdleConnections()
	runHTTPGet(b, &http.Client{Transport: base}, srv.URL)
}

func benchHTTPFailsafe(b *testing.B) {
	srv := httpServer()
	defer srv.Close()
	base := newBaseTransport()
	defer base.CloseIdleConnections()
	//nolint:bodyclose // a policy builder: no response is made here
	rp := failsafehttp.NewRetryPolicyBuilder().
		WithMaxAttempts(maxAttempts).
		WithBackoff(baseDelay, maxDelay).
		Build()
	//nolint:bodyclose // a policy builder: no response is made here
	cb := circuitbreaker.NewBuilder[*http.Response]().
		WithFailureThreshold(tripAfter).
		WithDelay(openDuration).
		Build()
	rt := failsafehttp.NewRoundTripper(base, rp, cb)
	runHTTPGet(b, &http.Client{Transport: rt}, srv.URL)
}

func benchHTTPRetryable(b *testing.B) {
	srv := httpServer()
	defer srv.Close()
	base := newBaseTransport()
	defer base.CloseIdleConnections()
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: base}
	rc.Logger = nil
	rc.RetryMax = maxAttempts - 1
	rc.RetryWaitMin, rc.RetryWaitMax = baseDelay, maxDelay
	runHTTPGet(b, rc.StandardClient(), srv.URL)
}
