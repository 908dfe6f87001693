package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{hundred, 50, 50},
		{hundred, 90, 90},
		{hundred, 99, 99},
		{hundred, 99.9, 100},
		{hundred, 100, 100},
		{hundred, 0, 1},
		{[]time.Duration{7}, 50, 7},
		{[]time.Duration{1, 2, 3}, 50, 2},
		{[]time.Duration{1, 2, 3, 4}, 50, 2},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("percentile(len %d, %v): got %v, want %v", len(tt.sorted), tt.p, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := config{url: "http://127.0.0.1:1/", rate: 100, duration: time.Second, connections: 1, timeout: time.Second}
	tests := []struct {
		name    string
		edit    func(*config)
		wantErr string
	}{
		{"valid", func(*config) {}, ""},
		{"no url", func(c *config) { c.url = "" }, "-url is required"},
		{"zero rate", func(c *config) { c.rate = 0 }, "-rate 0: must be > 0"},
		{"zero duration", func(c *config) { c.duration = 0 }, "-duration 0s: must be > 0"},
		{"no connections", func(c *config) { c.connections = 0 }, "-connections 0: must be >= 1"},
		{"zero timeout", func(c *config) { c.timeout = 0 }, "-timeout 0s: must be > 0"},
		{"too many", func(c *config) { c.rate = 1e6; c.duration = 2 * time.Second }, "must be in [1, 1000000]"},
		{"too few", func(c *config) { c.rate = 0.5 }, "= 0 requests"},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		err := c.validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (tt.wantErr == "") != (got == "") || !strings.Contains(got, tt.wantErr) {
			t.Errorf("%s: got error %q, want %q", tt.name, got, tt.wantErr)
		}
	}
}

// TestRunCountsAndConnections runs 100 requests at 1000/s over 4
// connections against a fast server and a server that fails every request.
func TestRunCountsAndConnections(t *testing.T) {
	var conns atomic.Int64
	for _, fail := range []bool{false, true} {
		conns.Store(0)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if fail {
				http.Error(w, "no", http.StatusServiceUnavailable)
				return
			}
			_, _ = fmt.Fprint(w, "ok")
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		res := run(context.Background(), config{url: srv.URL, rate: 1000, duration: 100 * time.Millisecond, connections: 4, timeout: time.Second})
		srv.Close()

		wantOK, wantErrors := 100, 0
		if fail {
			wantOK, wantErrors = 0, 100
		}
		if res.Requests != 100 || res.OK != wantOK || res.Errors != wantErrors || res.Unsent != 0 {
			t.Errorf("fail=%v: got requests %d ok %d errors %d unsent %d, want 100 %d %d 0",
				fail, res.Requests, res.OK, res.Errors, res.Unsent, wantOK, wantErrors)
		}
		if fail && res.FirstError != "status 503" {
			t.Errorf("fail=%v: got first error %q, want %q", fail, res.FirstError, "status 503")
		}
		if got := conns.Load(); got != 4 {
			t.Errorf("fail=%v: got %d connections, want 4 (one per worker, kept alive)", fail, got)
		}
	}
}

// TestLatencyFromSchedule checks that latency counts from the scheduled time:
// one connection, a server that takes 20 ms and a request every 10 ms. The
// server completes one request every 20 ms, so request i (of 20) ends at
// about 20(i+1) ms and its latency from its schedule 10i ms is 10i + 20 ms:
// the last one waits about 210 ms. Measured from the send, every latency
// would be about 20 ms.
func TestLatencyFromSchedule(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
		_, _ = fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	res := run(context.Background(), config{url: srv.URL, rate: 100, duration: 200 * time.Millisecond, connections: 1, timeout: time.Second})
	if res.OK != 20 {
		t.Fatalf("got %d ok (errors %d, %s), want 20", res.OK, res.Errors, res.FirstError)
	}
	if res.MaxUS < 180_000 {
		t.Errorf("max latency: got %v µs, want >= 180000 µs (the queue behind a slow server)", res.MaxUS)
	}
	if res.LagMaxUS < 150_000 {
		t.Errorf("max send lag: got %v µs, want >= 150000 µs", res.LagMaxUS)
	}
	if res.P50US < 90_000 {
		t.Errorf("p50 latency: got %v µs, want >= 90000 µs", res.P50US)
	}
}

// TestRequestTimeout checks that a server that never answers fails each
// request after the timeout instead of holding the run.
func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	res := run(context.Background(), config{url: srv.URL, rate: 100, duration: 50 * time.Millisecond, connections: 2, timeout: 100 * time.Millisecond})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("run took %v, want < 2s", d)
	}
	if res.OK != 0 || res.Errors != 5 {
		t.Errorf("got ok %d errors %d, want 0 5", res.OK, res.Errors)
	}
}

func TestSleepUntil(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	at := time.Now().Add(3 * time.Millisecond)
	if !sleepUntil(ctx, at) {
		t.Fatal("sleepUntil: got false, want true (context live)")
	}
	if late := time.Since(at); late < 0 {
		t.Errorf("sleepUntil returned %v early", -late)
	}
	cancel()
	start := time.Now()
	if sleepUntil(ctx, time.Now().Add(time.Hour)) {
		t.Error("sleepUntil with a canceled context: got true, want false")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("sleepUntil with a canceled context took %v", d)
	}
}
