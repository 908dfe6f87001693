package cache_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/cache"
)

// handler answers with the status and body held in its fields.
type handler struct {
	status atomic.Int64
	body   atomic.Value // string
	calls  atomic.Int64
	hdr    http.Header
}

func newHandler(body string) *handler {
	h := &handler{}
	h.status.Store(200)
	h.body.Store(body)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.calls.Add(1)
	for k, v := range h.hdr {
		w.Header()[k] = v
	}
	w.Header().Set("X-From", "origin")
	w.WriteHeader(int(h.status.Load()))
	_, _ = w.Write([]byte(h.body.Load().(string)))
}

func serve(t *testing.T, h http.Handler, method, target string, hdr ...string) (result, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	defer res.Body.Close()
	return result{Status: res.StatusCode, Body: rec.Body.String(), Cache: res.Header.Get("Keel-Cache"),
		Age: res.Header.Get("Age"), Warn: res.Header.Get("Warning")}, res.Header
}

func TestMiddleware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(okBody)
		c := cache.MustNew(cache.Config{ServeFresh: true, TTL: 10 * time.Second, MaxStale: time.Minute})
		mw := c.Middleware(h)
		const target = "http://api.test/items"
		steps := []struct {
			name   string
			sleep  time.Duration
			status int
			method string
			want   result
			calls  int64
		}{
			{name: "miss", want: result{Status: 200, Body: okBody}, calls: 1},
			{name: "fresh hit", sleep: 4 * time.Second, want: result{Status: 200, Body: okBody, Cache: "hit", Age: "4"}, calls: 1},
			{name: "HEAD from GET", method: "HEAD", want: result{Status: 200, Cache: "hit", Age: "4"}, calls: 1},
			{name: "stale on 503", sleep: 10 * time.Second, status: 503, want: result{Status: 200, Body: okBody, Cache: "stale", Age: "14", Warn: warn}, calls: 2},
			{name: "503 beyond MaxStale", sleep: time.Minute, status: 503, want: result{Status: 503, Body: "v2"}, calls: 3},
			{name: "stored again", status: 200, want: result{Status: 200, Body: "v2"}, calls: 4},
			{name: "hit on the new entry", sleep: time.Second, want: result{Status: 200, Body: "v2", Cache: "hit", Age: "1"}, calls: 4},
			{name: "POST passes through", method: "POST", status: 503, want: result{Status: 503, Body: "v2"}, calls: 5},
		}
		for _, s := range steps {
			time.Sleep(s.sleep)
			if s.status != 0 {
				h.status.Store(int64(s.status))
			}
			if s.name == "503 beyond MaxStale" {
				h.body.Store("v2")
			}
			method := s.method
			if method == "" {
				method = "GET"
			}
			got, hdr := serve(t, mw, method, target)
			if diff := cmp.Diff(s.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", s.name, diff)
			}
			if n := h.calls.Load(); n != s.calls {
				t.Errorf("%s: handler calls = %d, want %d", s.name, n, s.calls)
			}
			if got.Cache == "stale" && hdr.Get("X-From") != "origin" {
				t.Errorf("%s: stale response lost the stored headers: %v", s.name, hdr)
			}
		}
	})
}

func TestMiddlewareNotStored(t *testing.T) {
	tests := []struct {
		name string
		hdr  http.Header
		body string
	}{
		{name: "no-store", hdr: http.Header{"Cache-Control": {"no-store"}}},
		{name: "Set-Cookie", hdr: http.Header{"Set-Cookie": {"a=b"}}},
		{name: "too large", body: strings.Repeat("z", 33)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := okBody
			if tt.body != "" {
				body = tt.body
			}
			h := newHandler(body)
			h.hdr = tt.hdr
			c := cache.MustNew(cache.Config{MaxBodyBytes: 32})
			got, _ := serve(t, c.Middleware(h), "GET", "/x")
			if got.Body != body {
				t.Errorf("body = %q, want %q", got.Body, body)
			}
			if n := c.Len(); n != 0 {
				t.Errorf("Len = %d, want 0", n)
			}
		})
	}
}

func TestMiddlewarePanicPassesThrough(t *testing.T) {
	c := cache.MustNew(cache.Config{})
	mw := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("part"))
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler { //nolint:errorlint // the panic value itself
				t.Errorf("recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		serve(t, mw, "GET", "/x")
	}()
	if n := c.Len(); n != 0 {
		t.Errorf("Len after a panic = %d, want 0", n)
	}
}

func TestMiddlewareFlush(t *testing.T) {
	c := cache.MustNew(cache.Config{})
	mw := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("a"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		_, _ = w.Write([]byte("b"))
	}))
	rec := httptest.NewRecorder()
	mw.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if !rec.Flushed || rec.Body.String() != "ab" || c.Len() != 1 {
		t.Errorf("flushed=%v body=%q Len=%d, want true \"ab\" 1", rec.Flushed, rec.Body.String(), c.Len())
	}
}
