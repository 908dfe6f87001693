package keelhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/ratelimit"
)

// serve starts a real server on 127.0.0.1 running h under a middleware
// configured by cfg.
func serve(t *testing.T, cfg keelhttp.MiddlewareConfig, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(keelhttp.MustNewMiddleware(cfg).Wrap(h))
	t.Cleanup(s.Close)
	return s
}

func plainClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func decodeProblem(t *testing.T, resp *http.Response) keelhttp.Problem {
	t.Helper()
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", got)
	}
	var p keelhttp.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("decoding problem: %v", err)
	}
	return p
}

func TestPanicBecomes500Problem(t *testing.T) {
	var logs bytes.Buffer
	s := serve(t, keelhttp.MiddlewareConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil))},
		func(http.ResponseWriter, *http.Request) { panic("nil map write in /orders") })
	resp, err := plainClient(t).Get(s.URL + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 {
		t.Errorf("status: got %d, want 500", resp.StatusCode)
	}
	want := keelhttp.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500, Detail: "internal error", Instance: "/orders", Flag: "PANIC"}
	if diff := cmp.Diff(want, decodeProblem(t, resp)); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}
	lines := logLines(t, &logs)
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2 (panic, access): %s", len(lines), logs.String())
	}
	if lines[0]["msg"] != "http handler panic" || lines[0]["panic"] != "nil map write in /orders" || !strings.Contains(lines[0]["stack"].(string), "server_test.go") {
		t.Errorf("panic line lacks message, value or stack: %v", lines[0])
	}
	if lines[1]["status"] != float64(500) || lines[1]["flag"] != "PANIC" || lines[1]["level"] != "ERROR" {
		t.Errorf("access line: got %v, want status 500, flag PANIC, level ERROR", lines[1])
	}
}

func TestPanicAfterResponseStartedAbortsConnection(t *testing.T) {
	s := serve(t, keelhttp.MiddlewareConfig{}, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "partial")
		_ = http.NewResponseController(w).Flush()
		panic("halfway")
	})
	resp, err := plainClient(t).Get(s.URL)
	if err != nil {
		return // aborted before the headers arrived: also a broken response
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("read the whole body without error, want the connection aborted")
	}
}

func TestAdmission(t *testing.T) {
	t.Run("bulkhead full: 503", func(t *testing.T) {
		release := make(chan struct{})
		entered := make(chan struct{})
		s := serve(t, keelhttp.MiddlewareConfig{Admission: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})},
			func(http.ResponseWriter, *http.Request) { entered <- struct{}{}; <-release })
		c := plainClient(t)
		var wg sync.WaitGroup
		wg.Go(func() {
			resp, err := c.Get(s.URL)
			if err == nil {
				resp.Body.Close()
			}
		})
		<-entered
		resp, err := c.Get(s.URL)
		close(release)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		p := decodeProblem(t, resp)
		if resp.StatusCode != 503 || p.Flag != "UO" || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("got %d, flag %q, Retry-After %q; want 503, UO, 1", resp.StatusCode, p.Flag, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("rate limited: 429 with Retry-After", func(t *testing.T) {
		lim := ratelimit.MustNew(ratelimit.Config{Rate: 0.25, Burst: 1}) // one token every 4s
		s := serve(t, keelhttp.MiddlewareConfig{Admission: lim}, func(http.ResponseWriter, *http.Request) {})
		c := plainClient(t)
		resp, err := c.Get(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = c.Get(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		p := decodeProblem(t, resp)
		if resp.StatusCode != 429 || p.Flag != "RL" || resp.Header.Get("Retry-After") != "4" {
			t.Errorf("got %d, flag %q, Retry-After %q; want 429, RL, 4", resp.StatusCode, p.Flag, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("breaker open: 503 with Retry-After", func(t *testing.T) {
		br := breaker.MustNew(breaker.Config{OpenDuration: 90 * time.Second, MinimumCalls: 1, WindowSize: 1})
		p, _ := br.Allow()
		p.Done(1) // one failure opens it
		s := serve(t, keelhttp.MiddlewareConfig{Admission: br}, func(http.ResponseWriter, *http.Request) {
			t.Error("handler ran behind an open breaker")
		})
		resp, err := plainClient(t).Get(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ra := resp.Header.Get("Retry-After"); resp.StatusCode != 503 || (ra != "90" && ra != "89") {
			t.Errorf("got %d, Retry-After %q; want 503, 90", resp.StatusCode, ra)
		}
	})
}

func TestDeadlineHeaderBecomesContextDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		header  string
		max     time.Duration
		want    time.Duration // 0: no deadline
		status  int
		handled bool
	}{
		{name: "header", header: "1500", want: 1500 * time.Millisecond, status: 200, handled: true},
		{name: "bounded by MaxDeadline", header: "3600000", max: 10 * time.Second, want: 10 * time.Second, status: 200, handled: true},
		{name: "default bound", header: "3600000", want: keelhttp.DefaultMaxDeadline, status: 200, handled: true},
		{name: "no header", status: 200, handled: true},
		{name: "malformed: ignored", header: "1.5s", status: 200, handled: true},
		{name: "negative MaxDeadline: ignored", header: "1500", max: -1, status: 200, handled: true},
		{name: "no time left: 504 without the handler", header: "0", status: 504},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var got time.Duration
				handled := false
				m := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{MaxDeadline: tc.max})
				h := m.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
					handled = true
					if d, ok := r.Context().Deadline(); ok {
						got = time.Until(d)
					}
				}))
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				if tc.header != "" {
					req.Header.Set(keelhttp.DeadlineHeader, tc.header)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if got != tc.want || w.Code != tc.status || handled != tc.handled {
					t.Errorf("got deadline in %v, status %d, handled %v; want %v, %d, %v", got, w.Code, handled, tc.want, tc.status, tc.handled)
				}
			})
		})
	}
}

func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type traceKey struct{}

func TestAccessLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		var infos []keelhttp.RequestInfo
		m := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
			Name:   "orders",
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			Start: func(r *http.Request) (context.Context, func(keelhttp.RequestInfo)) {
				return context.WithValue(r.Context(), traceKey{}, "4bf92f3577b34da6a3ce929d0e0e4736"),
					func(ri keelhttp.RequestInfo) { infos = append(infos, ri) }
			},
			TraceID:   func(ctx context.Context) string { s, _ := ctx.Value(traceKey{}).(string); return s },
			Admission: ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 1}),
		})
		h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Context().Value(traceKey{}) == nil {
				t.Error("the handler did not get Start's context")
			}
			time.Sleep(25 * time.Millisecond)
			_, _ = io.WriteString(w, "hello")
		}))
		for range 2 { // the second is rate limited
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/orders/7?x=1", nil))
		}
		lines := logLines(t, &logs)
		for _, l := range lines {
			delete(l, "time")
		}
		want := []map[string]any{
			{"level": "INFO", "msg": "http request", "method": "POST", "path": "/orders/7", "status": float64(200), "bytes": float64(5),
				"duration": float64(25 * time.Millisecond), "flag": "-", "server": "orders", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"},
			{"level": "INFO", "msg": "http request", "method": "POST", "path": "/orders/7", "status": float64(429), "bytes": float64(len(`{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"rate limit exceeded; try again later","instance":"/orders/7","flag":"RL"}`) + 1),
				"duration": float64(0), "flag": "RL", "server": "orders", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"},
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("access log (-want +got):\n%s", diff)
		}
		wantInfos := []keelhttp.RequestInfo{
			{Method: "POST", Path: "/orders/7", Status: 200, Bytes: 5, Duration: 25 * time.Millisecond},
			{Method: "POST", Path: "/orders/7", Status: 429, Bytes: int64(want[1]["bytes"].(float64)), Flag: "RL"},
		}
		if diff := cmp.Diff(wantInfos, infos, cmpopts.IgnoreFields(keelhttp.RequestInfo{}, "Err")); diff != "" {
			t.Errorf("RequestInfo (-want +got):\n%s", diff)
		}
		if infos[1].Err == nil {
			t.Error("RequestInfo.Err of the rejected request is nil")
		}
	})
}

func TestDisconnectFlag(t *testing.T) {
	var logs bytes.Buffer
	m := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { cancel() })) // the client goes away
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if l := logLines(t, &logs); len(l) != 1 || l[0]["flag"] != "DC" {
		t.Errorf("got %v, want one line with flag DC", l)
	}
}

func TestWriteErrorInsideHandlerSetsFlag(t *testing.T) {
	var logs bytes.Buffer
	m := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keelhttp.WriteError(w, r, &breaker.OpenError{State: breaker.Open, Remaining: time.Second})
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if l := logLines(t, &logs); len(l) != 1 || l[0]["flag"] != "UO" || l[0]["status"] != float64(503) {
		t.Errorf("got %v, want one line with status 503, flag UO", l)
	}
}

// TestSetFlag: a handler's own flag reaches the access log and the end
// function, through a writer that wraps the middleware's.
func TestSetFlag(t *testing.T) {
	var logs bytes.Buffer
	var info keelhttp.RequestInfo
	m := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Start: func(*http.Request) (context.Context, func(keelhttp.RequestInfo)) {
			return nil, func(i keelhttp.RequestInfo) { info = i }
		},
	})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		keelhttp.SetFlag(unwrapper{w}, keelhttp.FlagFallback)
		_, _ = io.WriteString(w, "fallback")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if l := logLines(t, &logs); len(l) != 1 || l[0]["flag"] != "FB" {
		t.Errorf("log: got %v, want one line with flag FB", l)
	}
	if info.Flag != "FB" {
		t.Errorf("RequestInfo.Flag = %q, want FB", info.Flag)
	}
	keelhttp.SetFlag(httptest.NewRecorder(), keelhttp.FlagFallback) // no middleware: nothing happens
}

type unwrapper struct{ http.ResponseWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestDeadlinePropagatesEndToEnd sends a request through a Transport to a
// server behind the Middleware: the handler's context gets the caller's
// remaining time as its deadline.
func TestDeadlinePropagatesEndToEnd(t *testing.T) {
	got := make(chan time.Duration, 1)
	s := serve(t, keelhttp.MiddlewareConfig{}, func(_ http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		if !ok {
			got <- -1
			return
		}
		got <- time.Until(d)
	})
	c, _ := client(t, keelhttp.TransportConfig{})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Loopback takes far less than a second; the header rounds down.
	if left := <-got; left <= 2*time.Second || left > 3*time.Second {
		t.Errorf("server-side time left: got %v, want in (2s, 3s]", left)
	}
}
