package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

func newInjector(t testing.TB, cfg Config) *Injector {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func ok(context.Context) error { return nil }

func TestPolicyLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := newInjector(t, Config{Faults: []Fault{{Kind: KindLatency, Latency: Duration(250 * time.Millisecond)}}})
		start := time.Now()
		ran := false
		err := in.Do(t.Context(), func(context.Context) error { ran = true; return nil })
		if got, want := time.Since(start), 250*time.Millisecond; got != want || err != nil || !ran {
			t.Fatalf("got %v, %v, ran=%v; want %v, nil, ran=true", got, err, ran, want)
		}
	})
}

func TestPolicyLatencyJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, j := 100*time.Millisecond, 40*time.Millisecond
		in := newInjector(t, Config{Faults: []Fault{{Kind: KindLatency, Latency: Duration(l), Jitter: Duration(j)}}})
		var lo, hi time.Duration = time.Hour, 0
		var sum time.Duration
		const n = 400
		for range n {
			start := time.Now()
			_ = in.Do(t.Context(), ok)
			d := time.Since(start)
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		if lo < l-j || hi > l+j {
			t.Errorf("delays in [%v, %v], want within [%v, %v]", lo, hi, l-j, l+j)
		}
		if hi-lo < j { // a uniform spread over 80ms should cover most of it
			t.Errorf("delays spread over %v only, want at least %v", hi-lo, j)
		}
		if mean := sum / n; mean < l-5*time.Millisecond || mean > l+5*time.Millisecond {
			t.Errorf("mean delay %v, want %v ± 5ms", mean, l)
		}
	})
}

func TestPolicyLatencyHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := newInjector(t, Config{Faults: []Fault{{Kind: KindLatency, Latency: Duration(time.Second)}}})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := in.Do(ctx, func(context.Context) error { t.Error("op ran"); return nil })
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("got %v after %v, want DeadlineExceeded after 100ms", err, time.Since(start))
		}
	})
}

func TestPolicyTerminalFaults(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		fault  Fault
		is     []error
		status int
	}{
		{"go error", Fault{ID: "e", Kind: KindError, Err: boom}, []error{ErrInjected, boom}, 0},
		{"status", Fault{ID: "e", Kind: KindError, Status: 503}, []error{ErrInjected}, 503},
		{"default status", Fault{ID: "e", Kind: KindError}, []error{ErrInjected}, 500},
		{"abort", Fault{ID: "a", Kind: KindAbort}, []error{ErrInjected, syscall.ECONNRESET}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInjector(t, Config{Faults: []Fault{tt.fault}})
			err := in.Do(t.Context(), func(context.Context) error { t.Error("op ran"); return nil })
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("got %v, want it to match %v", err, target)
				}
			}
			ie, _ := errors.AsType[*InjectedError](err)
			if ie == nil || ie.Status != tt.status || ie.Fault != tt.fault.ID {
				t.Errorf("got %#v, want an *InjectedError with Fault %q and Status %d", ie, tt.fault.ID, tt.status)
			}
		})
	}
}

func TestPolicyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := newInjector(t, Config{Faults: []Fault{{ID: "hole", Kind: KindTimeout}}})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err := in.Do(ctx, ok)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrInjected) || time.Since(start) != 3*time.Second {
			t.Fatalf("got %v after %v, want an injected DeadlineExceeded after 3s", err, time.Since(start))
		}

		_ = in.Replace([]Fault{{ID: "hole", Kind: KindTimeout, MaxHang: Duration(time.Second)}})
		start = time.Now()
		err = in.Do(t.Context(), ok)
		ie, _ := errors.AsType[*InjectedError](err)
		if ie == nil || !ie.Timeout() || ie.Err != nil || time.Since(start) != time.Second {
			t.Fatalf("got %v after %v, want a timeout *InjectedError after 1s", err, time.Since(start))
		}
	})
}

func TestPolicySkipsRequestFaults(t *testing.T) {
	in := newInjector(t, Config{Faults: []Fault{
		{Kind: KindError, PathPrefix: "/x"},
		{Kind: KindError, Headers: map[string]string{"a": "b"}},
		{Kind: KindBandwidth, BytesPerSecond: 1},
	}})
	if err := in.Do(t.Context(), ok); err != nil {
		t.Fatalf("got %v, want nil: request-scoped faults must not apply to operations", err)
	}
}

// TestPercent checks the share of requests a 30% fault hits against a
// binomial bound, and that a seed replays the same sequence.
func TestPercent(t *testing.T) {
	const n, pct = 20000, 30.0
	run := func(seed uint64) []bool {
		in := newInjector(t, Config{Seed: seed, Faults: []Fault{{Kind: KindError, Percent: Percent(pct)}}})
		hits := make([]bool, n)
		for i := range hits {
			hits[i] = in.Do(t.Context(), ok) != nil
		}
		return hits
	}
	a := run(7)
	k := 0
	for _, h := range a {
		if h {
			k++
		}
	}
	p := pct / 100
	sd := math.Sqrt(n * p * (1 - p))
	if mean := n * p; math.Abs(float64(k)-mean) > 4.5*sd {
		t.Errorf("got %d hits of %d, want %v ± %.0f (4.5σ)", k, n, mean, 4.5*sd)
	}
	if diff := cmp.Diff(a, run(7)); diff != "" {
		t.Errorf("same seed, different faults (-first +second):\n%s", diff)
	}
	if cmp.Equal(a, run(8)) {
		t.Errorf("seeds 7 and 8 gave the same %d draws", n)
	}
}

func TestPercentZeroMeansNever(t *testing.T) {
	in := newInjector(t, Config{Faults: []Fault{{Kind: KindError, Percent: Percent(0)}}})
	for range 1000 {
		if err := in.Do(t.Context(), ok); err != nil {
			t.Fatalf("got %v, want nil for Percent 0", err)
		}
	}
}

func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := newInjector(t, Config{})
		f, err := in.Add(Fault{Kind: KindError, Duration: Duration(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Now().Add(time.Minute); !f.Until.Equal(want) || f.Duration != 0 {
			t.Fatalf("got Until %v Duration %v, want Until %v Duration 0", f.Until, f.Duration, want)
		}
		time.Sleep(time.Minute - time.Nanosecond)
		if err := in.Do(t.Context(), ok); err == nil {
			t.Fatal("fault did not fire before it expired")
		}
		time.Sleep(time.Nanosecond)
		if err := in.Do(t.Context(), ok); err != nil {
			t.Fatalf("got %v after expiry, want nil", err)
		}
		if got := in.List(); len(got) != 0 {
			t.Fatalf("List() = %v after expiry, want none", got)
		}
	})
}

func TestMaxActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := newInjector(t, Config{MaxActive: 2, Faults: []Fault{{Kind: KindLatency, Latency: Duration(time.Second)}}})
		var mu sync.Mutex
		var delayed, direct int
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				start := time.Now()
				_ = in.Do(t.Context(), ok)
				mu.Lock()
				defer mu.Unlock()
				if time.Since(start) > 0 {
					delayed++
				} else {
					direct++
				}
			})
		}
		synctest.Wait()
		if got := in.Stats().Active; got != 2 {
			t.Errorf("got %d active, want 2", got)
		}
		wg.Wait()
		if delayed != 2 || direct != 3 {
			t.Errorf("got %d delayed and %d direct, want 2 and 3", delayed, direct)
		}
		st := in.Stats()
		if want := (Stats{DelaysInjected: 2, Overflow: 3}); st != want {
			t.Errorf("got %+v, want %+v", st, want)
		}
	})
}

func TestAddRemoveList(t *testing.T) {
	in := newInjector(t, Config{})
	a, err := in.Add(Fault{Kind: KindLatency, Latency: Duration(time.Millisecond), Headers: map[string]string{"x-a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Add(Fault{ID: a.ID, Kind: KindAbort}); err == nil {
		t.Errorf("Add with a duplicate ID %q succeeded", a.ID)
	}
	b, _ := in.Add(Fault{ID: "b", Kind: KindAbort, Percent: Percent(50)})
	want := []Fault{
		{ID: "latency-1", Kind: KindLatency, Latency: Duration(time.Millisecond), Headers: map[string]string{"X-A": "1"}},
		{ID: "b", Kind: KindAbort, Percent: Percent(50)},
	}
	if diff := cmp.Diff(want, in.List(), cmpopts.EquateErrors()); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if !in.Remove(b.ID) || in.Remove(b.ID) {
		t.Error("Remove did not report true then false")
	}
	if got := len(in.List()); got != 1 {
		t.Errorf("got %d faults after Remove, want 1", got)
	}
	if err := in.Replace([]Fault{{Kind: KindAbort}, {Kind: "nope"}}); err == nil || len(in.List()) != 1 {
		t.Errorf("Replace with an invalid fault: got %v and %d faults, want an error and no change", err, len(in.List()))
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		f    Fault
		want string // "" for valid
	}{
		{Fault{Kind: KindLatency, Latency: 1}, ""},
		{Fault{Kind: KindLatency}, "Fault.Latency must be > 0"},
		{Fault{Kind: KindLatency, Latency: -1}, "must be >= 0"},
		{Fault{Kind: KindError, Status: 99}, "Fault.Status must be in [200, 600)"},
		{Fault{Kind: KindError, Status: 503}, ""},
		{Fault{Kind: KindAbort}, ""},
		{Fault{Kind: KindTimeout, MaxHang: -1}, "Fault.MaxHang"},
		{Fault{Kind: KindBandwidth}, "Fault.BytesPerSecond must be > 0"},
		{Fault{}, "Fault.Kind is required"},
		{Fault{Kind: "boom"}, `Fault.Kind "boom" is not one of`},
		{Fault{Kind: KindAbort, Percent: Percent(101)}, "Fault.Percent must be in [0, 100]"},
		{Fault{Kind: KindAbort, Percent: Percent(math.NaN())}, "Fault.Percent must be in [0, 100]"},
		{Fault{Kind: KindAbort, Duration: -1}, "Fault.Duration must be >= 0"},
		{Fault{Kind: KindAbort, Headers: map[string]string{"a b": "c"}}, "invalid header name"},
	}
	for _, tt := range tests {
		err := tt.f.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: got %v, want %q", tt.f, err, tt.want)
		}
	}
	if _, err := New(Config{MaxActive: -1}); err == nil || !strings.Contains(err.Error(), "Config.MaxActive") {
		t.Errorf("got %v, want a Config.MaxActive error", err)
	}
	if _, err := New(Config{Faults: []Fault{{ID: "a", Kind: KindAbort}, {ID: "a", Kind: KindAbort}}}); err == nil {
		t.Error("duplicate IDs accepted")
	}
}

func TestFaultJSON(t *testing.T) {
	in := `{"id":"slow","kind":"latency","latency":"250ms","jitter":"50ms","percent":12.5,"path_prefix":"/api","duration":"1m0s"}`
	var f Fault
	if err := json.Unmarshal([]byte(in), &f); err != nil {
		t.Fatal(err)
	}
	want := Fault{ID: "slow", Kind: KindLatency, Latency: Duration(250 * time.Millisecond),
		Jitter: Duration(50 * time.Millisecond), Percent: Percent(12.5), PathPrefix: "/api", Duration: Duration(time.Minute)}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("got %s, want %s", out, in)
	}
	if err := json.Unmarshal([]byte(`{"latency":"fast"}`), &f); err == nil {
		t.Error("invalid duration accepted")
	}
}

func TestConfigJSON(t *testing.T) {
	in := `{"name":"gw","faults":[{"kind":"abort","percent":1}],"seed":7,"max_active":3,"headers":{"enabled":true,"max_delay":"1s"}}`
	var c Config
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "gw", Seed: 7, MaxActive: 3, Headers: HeaderConfig{Enabled: true, MaxDelay: Duration(time.Second)},
		Faults: []Fault{{Kind: KindAbort, Percent: Percent(1)}}}
	if diff := cmp.Diff(want, c, cmpopts.IgnoreFields(Config{}, "OnInject", "Logger")); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	if out, err := json.Marshal(c); err != nil || string(out) != in {
		t.Errorf("got %s, %v; want %s", out, err, in)
	}
}

func FuzzFaultJSON(f *testing.F) {
	f.Add(`{"kind":"latency","latency":"250ms","jitter":"50ms","percent":50}`)
	f.Add(`{"kind":"error","status":503,"body":"x","headers":{"x-a":"1"}}`)
	f.Add(`{"kind":"bandwidth","bytes_per_second":1000,"duration":1000000}`)
	f.Add(`{"kind":"timeout","max_hang":"-1s"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var fl Fault
		if json.Unmarshal([]byte(s), &fl) != nil || fl.Validate() != nil {
			return
		}
		in := newInjector(t, Config{})
		stored, err := in.Add(fl)
		if err != nil {
			t.Fatalf("valid fault %+v rejected: %v", fl, err)
		}
		b, err := json.Marshal(stored)
		if err != nil {
			t.Fatal(err)
		}
		var back Fault
		if err := json.Unmarshal(b, &back); err != nil || back.Validate() != nil {
			t.Fatalf("round trip of %s: %v, %v", b, err, back.Validate())
		}
	})
}

func TestOnInject(t *testing.T) {
	var got []Injection
	in := newInjector(t, Config{Name: "n", OnInject: func(_ context.Context, inj Injection) { got = append(got, inj) }, Faults: []Fault{
		{ID: "l", Kind: KindLatency, Latency: 1},
		{ID: "e", Kind: KindError, Status: 502},
		{ID: "a", Kind: KindAbort}, // a second terminal fault never fires
	}})
	_ = in.Do(t.Context(), ok)
	want := []Injection{
		{Injector: "n", Fault: "l", Kind: KindLatency, Delay: 1},
		{Injector: "n", Fault: "e", Kind: KindError, Status: 502},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("injections (-want +got):\n%s", diff)
	}
}

// startServer serves h (wrapped by in's middleware) on 127.0.0.1.
func startServer(t *testing.T, in *Injector, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(in.Middleware(h))
	t.Cleanup(srv.Close)
	return srv
}

func hello(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }

// get sends a GET and returns the response's status and body.
func get(t *testing.T, c *http.Client, url string, hdr map[string]string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestMiddlewareLatency(t *testing.T) {
	in := newInjector(t, Config{Faults: []Fault{{Kind: KindLatency, Latency: Duration(100 * time.Millisecond), PathPrefix: "/slow"}}})
	srv := startServer(t, in, http.HandlerFunc(hello))
	c := srv.Client()
	_, _, _ = get(t, c, srv.URL+"/", nil) // warm the connection
	for _, tc := range []struct {
		path     string
		min, max time.Duration
	}{
		{"/slow/x", 100 * time.Millisecond, 180 * time.Millisecond},
		{"/fast", 0, 50 * time.Millisecond},
	} {
		start := time.Now()
		_, body, err := get(t, c, srv.URL+tc.path, nil)
		d := time.Since(start)
		if err != nil || body != "hello" || d < tc.min || d > tc.max {
			t.Errorf("%s: got %q, %v after %v; want hello after [%v, %v]", tc.path, body, err, d, tc.min, tc.max)
		}
	}
}

func TestMiddlewareError(t *testing.T) {
	in := newInjector(t, Config{Faults: []Fault{
		{Kind: KindError, Status: 503, Body: "down for chaos", Headers: map[string]string{"X-Tenant": "blue"}},
	}})
	srv := startServer(t, in, http.HandlerFunc(hello))
	for _, tc := range []struct {
		tenant string
		status int
		body   string
	}{{"blue", 503, "down for chaos"}, {"red", 200, "hello"}} {
		resp, body, err := get(t, srv.Client(), srv.URL, map[string]string{"X-Tenant": tc.tenant})
		if err != nil || resp != tc.status || body != tc.body {
			t.Errorf("tenant %s: got %v %q %v, want %d %q", tc.tenant, resp, body, err, tc.status, tc.body)
		}
	}
}

func TestMiddlewareAbortResetsConnection(t *testing.T) {
	in := newInjector(t, Config{Faults: []Fault{{Kind: KindAbort}}})
	srv := startServer(t, in, http.HandlerFunc(hello))
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, _, err := get(t, c, srv.URL, nil)
	if !errors.Is(err, syscall.ECONNRESET) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("got %v, want a connection reset", err)
	}
}

func TestMiddlewareTimeout(t *testing.T) {
	in := newInjector(t, Config{Faults: []Fault{{Kind: KindTimeout, MaxHang: Duration(50 * time.Millisecond), PathPrefix: "/max"}, {Kind: KindTimeout}}})
	srv := startServer(t, in, http.HandlerFunc(hello))
	resp, _, err := get(t, srv.Client(), srv.URL+"/max", nil)
	if err != nil || resp != http.StatusGatewayTimeout {
		t.Errorf("after MaxHang: got %v, %v, want 504", resp, err)
	}
	c := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, _, err = get(t, c, srv.URL+"/hole", nil)
	if d := time.Since(start); err == nil || d < 100*time.Millisecond {
		t.Errorf("black hole: got %v after %v, want a client timeout after 100ms", err, d)
	}
	c.CloseIdleConnections()
}

// TestMiddlewareBandwidth measures the rate a real client reads a throttled
// body at.
func TestMiddlewareBandwidth(t *testing.T) {
	const size, rate = 60_000, 100_000 // 0.6s
	body := strings.Repeat("x", size)
	in := newInjector(t, Config{Faults: []Fault{{Kind: KindBandwidth, BytesPerSecond: rate}}})
	srv := startServer(t, in, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) }))
	start := time.Now()
	_, got, err := get(t, srv.Client(), srv.URL, nil)
	checkRate(t, time.Since(start), len(got), err, size, rate)
}

func checkRate(t *testing.T, d time.Duration, n int, err error, size, rate int) {
	t.Helper()
	if err != nil || n != size {
		t.Fatalf("got %d bytes, %v; want %d", n, err, size)
	}
	got := float64(n) / d.Seconds()
	if r := float64(rate); got < 0.9*r || got > 1.1*r {
		t.Errorf("got %.0f B/s (%d bytes in %v), want %d ± 10%%", got, n, d, rate)
	}
}

func TestHeaderFaults(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		in := newInjector(t, Config{Headers: HeaderConfig{Enabled: enabled, MaxDelay: Duration(80 * time.Millisecond)}})
		srv := startServer(t, in, http.HandlerFunc(hello))
		c := srv.Client()
		wantStatus := 200
		if enabled {
			wantStatus = 418
		}
		resp, _, err := get(t, c, srv.URL, map[string]string{HeaderAbortStatus: "418"})
		if err != nil || resp != wantStatus {
			t.Errorf("enabled=%v abort header: got %v, %v; want %d", enabled, resp, err, wantStatus)
		}
		resp, _, err = get(t, c, srv.URL, map[string]string{HeaderAbortStatus: "418", HeaderPercent: "0"})
		if err != nil || resp != 200 {
			t.Errorf("enabled=%v percent 0: got %v, %v; want 200", enabled, resp, err)
		}
		start := time.Now()
		_, _, _ = get(t, c, srv.URL, map[string]string{HeaderDelay: "5000"})
		d := time.Since(start)
		if enabled && (d < 80*time.Millisecond || d > 500*time.Millisecond) {
			t.Errorf("delay header capped at 80ms took %v", d)
		}
		if !enabled && d > 500*time.Millisecond {
			t.Errorf("delay header honored while disabled: %v", d)
		}
	}
}

func TestHeaderThroughput(t *testing.T) {
	const size, rate = 50_000, 100_000
	body := strings.Repeat("y", size)
	in := newInjector(t, Config{Headers: HeaderConfig{Enabled: true}})
	srv := startServer(t, in, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) }))
	start := time.Now()
	_, got, err := get(t, srv.Client(), srv.URL, map[string]string{HeaderThroughput: "100000"})
	checkRate(t, time.Since(start), len(got), err, size, rate)
}

func TestTransport(t *testing.T) {
	const size, rate = 50_000, 100_000
	body := strings.Repeat("z", size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) }))
	defer srv.Close()
	in := newInjector(t, Config{Faults: []Fault{
		{Kind: KindError, Status: 502, Body: "bad", PathPrefix: "/err"},
		{Kind: KindAbort, PathPrefix: "/abort"},
		{Kind: KindBandwidth, BytesPerSecond: rate, PathPrefix: "/slow"},
		{Kind: KindLatency, Latency: Duration(100 * time.Millisecond), PathPrefix: "/late"},
	}})
	base := srv.Client().Transport
	c := &http.Client{Transport: in.Transport(base)}

	resp, got, err := get(t, c, srv.URL+"/err", nil)
	if err != nil || resp != 502 || got != "bad" {
		t.Errorf("error fault: got %v %q %v, want 502 bad", resp, got, err)
	}
	_, _, err = get(t, c, srv.URL+"/abort", nil)
	if !errors.Is(err, syscall.ECONNRESET) || !errors.Is(err, ErrInjected) {
		t.Errorf("abort: got %v, want an injected ECONNRESET", err)
	}
	start := time.Now()
	_, got, err = get(t, c, srv.URL+"/late", nil)
	if d := time.Since(start); err != nil || len(got) != size || d < 100*time.Millisecond || d > 180*time.Millisecond {
		t.Errorf("latency: got %d bytes, %v after %v, want %d after [100ms, 180ms]", len(got), err, d, size)
	}
	start = time.Now()
	_, got, err = get(t, c, srv.URL+"/slow", nil)
	checkRate(t, time.Since(start), len(got), err, size, rate)
	if a := in.Stats().Active; a != 0 {
		t.Errorf("got %d active faults after the bodies were closed, want 0", a)
	}
}

// TestNoFaultAllocs proves the paths with no fault allocate nothing.
func TestNoFaultAllocs(t *testing.T) {
	in := newInjector(t, Config{Headers: HeaderConfig{Enabled: true}, Faults: []Fault{{Kind: KindError, PathPrefix: "/never"}}})
	h := in.Wrap(func(ctx context.Context, op func(context.Context) error) error { return op(ctx) })
	ctx := context.Background()
	mw := in.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/path", nil)
	req.Header.Set("X-Other", "1")
	var w nopWriter
	rt := in.Transport(nopTransport{})
	for name, f := range map[string]func(){
		"policy":     func() { _ = h(ctx, ok) },
		"do":         func() { _ = in.Do(ctx, ok) },
		"middleware": func() { mw.ServeHTTP(w, req) },
		"transport":  func() { _, _ = rt.RoundTrip(req) }, //nolint:bodyclose // nopTransport returns no response
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per call with no fault, want 0", name, n)
		}
	}
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return nil }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

type nopTransport struct{}

func (nopTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, nil }

// FuzzHeaders sends arbitrary fault headers through the middleware: no
// panic, and an injected status is always a valid one.
func FuzzHeaders(f *testing.F) {
	f.Add("5", "503", "100", "50")
	f.Add("-1", "99", "1e9", "NaN")
	f.Add("x", "600", "0", "-5")
	in := newInjector(f, Config{Headers: HeaderConfig{Enabled: true, MaxDelay: 1}})
	h := in.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	f.Fuzz(func(t *testing.T, delay, status, rate, pct string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header[HeaderDelay] = []string{delay}
		r.Header[HeaderAbortStatus] = []string{status}
		r.Header[HeaderThroughput] = []string{rate}
		r.Header[HeaderPercent] = []string{pct}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code < 200 || w.Code >= 600 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

// TestRouteTargeting: a fault with a Route fires only for requests whose
// context names that route, in the policy and in the transport.
func TestRouteTargeting(t *testing.T) {
	in := MustNew(Config{Seed: 1, Faults: []Fault{{ID: "r", Kind: KindError, Status: 503, Route: "recs"}}})
	op := func(context.Context) error { return nil }
	if err := in.Do(WithRoute(context.Background(), "recs"), op); !errors.Is(err, ErrInjected) {
		t.Errorf("policy on the route: %v, want an injected error", err)
	}
	for _, ctx := range []context.Context{context.Background(), WithRoute(context.Background(), "charges")} {
		if err := in.Do(ctx, op); err != nil {
			t.Errorf("policy off the route (%q): %v", RouteFrom(ctx), err)
		}
	}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})
	tr := in.Transport(base)
	for route, want := range map[string]int{"recs": 503, "charges": 200, "": 200} {
		req := httptest.NewRequest(http.MethodGet, "http://x/", nil).WithContext(WithRoute(context.Background(), route))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("transport, route %q: %d, want %d", route, resp.StatusCode, want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHostTargeting: a fault with a Host fires only for requests to that
// host, and never in the policy.
func TestHostTargeting(t *testing.T) {
	in := MustNew(Config{Seed: 1, Faults: []Fault{{ID: "h", Kind: KindError, Status: 503, Host: "10.0.0.2:8080"}}})
	base := roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})
	tr := in.Transport(base)
	for host, want := range map[string]int{"10.0.0.2:8080": 503, "10.0.0.1:8080": 200} {
		resp, err := tr.RoundTrip(httptest.NewRequest(http.MethodGet, "http://"+host+"/", nil))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("transport to %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	if err := in.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Errorf("policy: %v, want no fault (it sees no host)", err)
	}
}
