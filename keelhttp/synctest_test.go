package keelhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/retry"
)

// These tests run the Transport over a scripted RoundTripper inside a
// testing/synctest bubble: no sockets (which would keep goroutines that are
// not durably blocked in the bubble), and time that moves only when every
// goroutine waits, so the waits the Transport makes are measured exactly.

// script is a RoundTripper that answers the n-th attempt with steps[n-1]
// (the last step repeats) and records when and with what each attempt came.
type script struct {
	steps []func(r *http.Request) (*http.Response, error)
	at    []time.Time
	reqs  []*http.Request
}

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	s.at = append(s.at, time.Now())
	s.reqs = append(s.reqs, r)
	i := min(len(s.at), len(s.steps)) - 1
	return s.steps[i](r)
}

// gaps returns the time between consecutive attempts.
func (s *script) gaps() []time.Duration {
	var d []time.Duration
	for i := 1; i < len(s.at); i++ {
		d = append(d, s.at[i].Sub(s.at[i-1]))
	}
	return d
}

func respond(status int, header http.Header, body string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		for k, v := range header {
			h[k] = v
		}
		return &http.Response{
			StatusCode: status, Status: http.StatusText(status), Header: h, Request: r,
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		}, nil
	}
}

// blockUntilDone waits until the attempt's context ends and fails with its
// error, like a server that never answers.
func blockUntilDone(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

func TestRetryAfterHonored(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter func(date time.Time) string
		clockSkew  time.Duration // the server's clock minus ours
		noDate     bool
		want       []time.Duration
		wantStatus int
	}{
		{name: "delta-seconds", retryAfter: func(time.Time) string { return "3" }, want: []time.Duration{3 * time.Second}, wantStatus: 200},
		{name: "HTTP-date, same clocks", retryAfter: func(d time.Time) string { return d.Add(7 * time.Second).Format(http.TimeFormat) }, want: []time.Duration{7 * time.Second}, wantStatus: 200},
		{name: "HTTP-date, server clock an hour ahead", clockSkew: time.Hour, retryAfter: func(d time.Time) string { return d.Add(7 * time.Second).Format(http.TimeFormat) }, want: []time.Duration{7 * time.Second}, wantStatus: 200},
		{name: "HTTP-date, no Date header", noDate: true, retryAfter: func(d time.Time) string { return d.Add(5 * time.Second).Format(http.TimeFormat) }, want: []time.Duration{5 * time.Second}, wantStatus: 200},
		{name: "HTTP-date in the past: backoff only", retryAfter: func(d time.Time) string { return d.Add(-time.Minute).Format(http.TimeFormat) }, want: []time.Duration{time.Second}, wantStatus: 200},
		{name: "beyond MaxRetryAfter: not retried early, last response returned", retryAfter: func(time.Time) string { return "31" }, want: nil, wantStatus: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{steps: []func(*http.Request) (*http.Response, error){
					func(r *http.Request) (*http.Response, error) {
						serverNow := time.Now().Add(tc.clockSkew)
						h := http.Header{"Retry-After": {tc.retryAfter(serverNow)}}
						if !tc.noDate {
							h.Set("Date", serverNow.Format(http.TimeFormat))
						}
						return respond(503, h, "busy")(r)
					},
					respond(200, nil, "ok"), //nolint:bodyclose // a step of the script, not a response
				}}
				kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{
					Base:  s,
					Retry: retry.Config{Backoff: backoff.Constant(time.Second)},
				})
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc.test/x", nil)
				resp, err := kt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status: got %d, want %d", resp.StatusCode, tc.wantStatus)
				}
				if diff := cmp.Diff(tc.want, s.gaps()); diff != "" {
					t.Errorf("waits between attempts (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){
			blockUntilDone,
			func(r *http.Request) (*http.Response, error) {
				// A body that needs the attempt's context while it is read.
				resp, _ := respond(200, nil, "ok")(r)
				resp.Body = ctxBody{ctx: r.Context(), ReadCloser: resp.Body}
				return resp, nil
			},
		}}
		kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{
			Base:  s,
			Retry: retry.Config{AttemptTimeout: 2 * time.Second, Backoff: backoff.Constant(0)},
		})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc.test/x", nil)
		resp, err := kt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the attempt's context outlives RoundTrip: the caller reads the body later
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "ok" {
			t.Errorf("body: got %q, %v, want \"ok\", nil", b, err)
		}
		if diff := cmp.Diff([]time.Duration{2 * time.Second}, s.gaps()); diff != "" {
			t.Errorf("waits between attempts (-want +got):\n%s", diff)
		}
		if err := s.reqs[1].Context().Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("attempt context after the body was closed: got %v, want context.Canceled", err)
		}
	})
}

// ctxBody fails reads once ctx has ended, as net/http's bodies do.
type ctxBody struct {
	ctx context.Context
	io.ReadCloser
}

func (b ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.ReadCloser.Read(p)
}

func TestMaxDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){
			respond(503, http.Header{"Retry-After": {"2"}}, "busy"), //nolint:bodyclose // a step of the script
		}}
		kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{
			Base:  s,
			Retry: retry.Config{MaxAttempts: 10, MaxDuration: 5 * time.Second, Backoff: backoff.Constant(0)},
		})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc.test/x", nil)
		start := time.Now()
		resp, err := kt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Attempts at 0s, 2s and 4s; a fourth at 6s would pass the 5s limit,
		// so the Transport returns the third response at 4s without waiting.
		if got, want := time.Since(start), 4*time.Second; got != want || resp.StatusCode != 503 {
			t.Errorf("got %d after %v, want 503 after %v", resp.StatusCode, got, want)
		}
		var got []string
		for _, r := range s.reqs {
			got = append(got, r.Header.Get(keelhttp.DeadlineHeader))
		}
		if diff := cmp.Diff([]string{"5000", "3000", "1000"}, got); diff != "" {
			t.Errorf("%s of each attempt (-want +got):\n%s", keelhttp.DeadlineHeader, diff)
		}
	})
}

func TestDeadlineHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    keelhttp.TransportConfig
		ctxDur time.Duration
		want   string
	}{
		{name: "caller's deadline", ctxDur: 1500 * time.Millisecond, want: "1500"},
		{name: "no deadline: no header", want: ""},
		{name: "attempt timeout sooner", cfg: keelhttp.TransportConfig{Retry: retry.Config{AttemptTimeout: time.Second}}, ctxDur: time.Minute, want: "1000"},
		{name: "turned off", cfg: keelhttp.TransportConfig{NoDeadlineHeader: true}, ctxDur: time.Minute, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{steps: []func(*http.Request) (*http.Response, error){respond(204, nil, "")}} //nolint:bodyclose // a step of the script
				tc.cfg.Base = s
				kt := keelhttp.MustNewTransport(tc.cfg)
				ctx := t.Context()
				if tc.ctxDur > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctxDur)
					defer cancel()
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.test/x", nil)
				resp, err := kt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := s.reqs[0].Header.Get(keelhttp.DeadlineHeader); got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			})
		})
	}
}

// OwnHeader: the attempts set their headers in the caller's Header, each
// attempt's values right when it is sent; without it, or with hedging, the
// caller's Header is left alone.
func TestOwnHeader(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       keelhttp.TransportConfig
		wantOwned bool
	}{
		{"owned", keelhttp.TransportConfig{OwnHeader: true}, true},
		{"copied", keelhttp.TransportConfig{}, false},
		{"hedged", keelhttp.TransportConfig{OwnHeader: true, Hedge: &hedge.Config{Delay: time.Hour, DisableBudget: true}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var sent []string
				record := func(r *http.Request) {
					sent = append(sent, r.Header.Get(keelhttp.DeadlineHeader)+" "+r.Header.Get("X-Caller"))
				}
				s := &script{steps: []func(*http.Request) (*http.Response, error){
					func(r *http.Request) (*http.Response, error) { record(r); return respond(503, nil, "busy")(r) },
					func(r *http.Request) (*http.Response, error) { record(r); return respond(204, nil, "")(r) },
				}}
				tc.cfg.Base = s
				tc.cfg.Retry = retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(time.Second)}
				kt := keelhttp.MustNewTransport(tc.cfg)
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.test/x", nil)
				req.Header.Set("X-Caller", "kept")
				resp, err := kt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if diff := cmp.Diff([]string{"5000 kept", "4000 kept"}, sent); diff != "" {
					t.Errorf("headers of each attempt (-want +got):\n%s", diff)
				}
				owned := req.Header.Get(keelhttp.DeadlineHeader) != ""
				if owned != tc.wantOwned {
					t.Errorf("caller's Header got %s: %v, want %v", keelhttp.DeadlineHeader, owned, tc.wantOwned)
				}
			})
		})
	}
}

func TestCallerCanceledDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := 0
		s := &script{steps: []func(*http.Request) (*http.Response, error){
			func(r *http.Request) (*http.Response, error) {
				resp, _ := respond(503, nil, "busy")(r)
				resp.Body = closeCounter{resp.Body, &closed}
				return resp, nil
			},
		}}
		kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: s, Retry: retry.Config{Backoff: backoff.Constant(time.Minute), MaxRetryAfter: time.Hour}})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(10*time.Second, cancel) // while the Transport waits a minute to retry
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.test/x", nil)
		resp, err := kt.RoundTrip(req)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want one matching context.Canceled", err)
		}
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a %d response, want an error", resp.StatusCode)
		}
		if got, want := len(s.reqs), 1; got != want {
			t.Errorf("attempts: got %d, want %d", got, want)
		}
		if closed != 1 {
			t.Errorf("bodies closed: got %d, want 1", closed)
		}
	})
}

type closeCounter struct {
	io.ReadCloser
	n *int
}

func (c closeCounter) Close() error { *c.n++; return c.ReadCloser.Close() }

func TestEveryDiscardedBodyClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := 0
		s := &script{steps: []func(*http.Request) (*http.Response, error){
			func(r *http.Request) (*http.Response, error) {
				resp, _ := respond(502, nil, strings.Repeat("e", 100))(r)
				resp.Body = closeCounter{resp.Body, &closed}
				return resp, nil
			},
		}}
		kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: s, DrainLimit: 10, Retry: retry.Config{MaxAttempts: 4, Backoff: backoff.Constant(0)}})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc.test/x", nil)
		resp, err := kt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if closed != 3 {
			t.Errorf("bodies closed before the caller closes the last: got %d, want 3", closed)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if closed != 4 || len(b) != 100 {
			t.Errorf("after the caller read and closed the last: %d closed, %d bytes read; want 4 and 100", closed, len(b))
		}
	})
}
