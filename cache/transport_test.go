package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/cache"
	"github.com/keelhq/keel/keeltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errRefused = errors.New("connect: connection refused")

// origin is a scripted RoundTripper: it answers with status and body, or
// fails with err, and counts its calls.
type origin struct {
	mu     sync.Mutex
	status int
	body   string
	header http.Header
	err    error
	calls  atomic.Int64
}

func newOrigin(body string) *origin { return &origin{status: 200, body: body} }

func (o *origin) set(status int, body string, err error) {
	o.mu.Lock()
	o.status, o.body, o.err = status, body, err
	o.mu.Unlock()
}

func (o *origin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.calls.Add(1)
	o.mu.Lock()
	status, body, err := o.status, o.body, o.err
	h := o.header.Clone()
	o.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "text/plain")
	return &http.Response{
		StatusCode: status, Status: fmt.Sprint(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

// result is what a test sees of one response.
type result struct {
	Status int
	Body   string
	Cache  string
	Age    string
	Warn   string
	Err    string
}

func get(t *testing.T, rt http.RoundTripper, method, url string, hdr ...string) result {
	t.Helper()
	return getCtx(t, t.Context(), rt, method, url, hdr...)
}

func getCtx(t *testing.T, ctx context.Context, rt http.RoundTripper, method, url string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return result{Err: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{Status: resp.StatusCode, Body: string(b), Cache: resp.Header.Get("Keel-Cache"),
		Age: resp.Header.Get("Age"), Warn: resp.Header.Get("Warning")}
}

const (
	u      = "http://api.test/items?b=2&a=1"
	warn   = `110 - "Response is Stale"`
	okBody = "v1"
)

func TestTransportStaleOnFailure(t *testing.T) {
	deadlineCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), time.Millisecond)
	}
	tests := []struct {
		name   string
		status int
		err    error
		ctx    func() (context.Context, context.CancelFunc)
		after  time.Duration // time since the entry was stored
		want   result
	}{
		{name: "connection error", err: errRefused, after: 30 * time.Second,
			want: result{Status: 200, Body: okBody, Cache: "stale", Age: "30", Warn: warn}},
		{name: "503", status: 503, after: 5 * time.Second,
			want: result{Status: 200, Body: okBody, Cache: "stale", Age: "5", Warn: warn}},
		{name: "500 at the edge of MaxStale", status: 500, after: time.Minute + 59*time.Second,
			want: result{Status: 200, Body: okBody, Cache: "stale", Age: "119", Warn: warn}},
		{name: "breaker open", err: fmt.Errorf("call: %w", keel.ErrRejected), after: time.Second,
			want: result{Status: 200, Body: okBody, Cache: "stale", Age: "1", Warn: warn}},
		{name: "context deadline", err: context.DeadlineExceeded, ctx: deadlineCtx, after: time.Second,
			want: result{Status: 200, Body: okBody, Cache: "stale", Age: "2", Warn: warn}}, // 1s more waiting out the deadline
		{name: "beyond MaxStale", err: errRefused, after: 2 * time.Minute,
			want: result{Err: errRefused.Error()}},
		{name: "beyond MaxStale, 503 passes through", status: 503, after: 2*time.Minute + time.Second,
			want: result{Status: 503, Body: "down"}},
		{name: "404 is not a failure", status: 404, after: time.Second,
			want: result{Status: 404, Body: "down"}},
		{name: "429 is not a failure by default", status: 429, after: time.Second,
			want: result{Status: 429, Body: "down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newOrigin(okBody)
				c := cache.MustNew(cache.Config{TTL: 10 * time.Second, MaxStale: 110 * time.Second})
				rt := c.Transport(o)
				if got := get(t, rt, "GET", u); got.Body != okBody || got.Cache != "" {
					t.Fatalf("first GET = %+v, want the origin's %q", got, okBody)
				}
				time.Sleep(tt.after)
				o.set(tt.status, "down", tt.err)
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if tt.ctx != nil {
					ctx, cancel = tt.ctx()
					time.Sleep(time.Second)
				}
				defer cancel()
				got := getCtx(t, ctx, rt, "GET", u)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("GET after %v (-want +got):\n%s", tt.after, diff)
				}
			})
		})
	}
}

func TestTransportNoStaleWhenCallerCanceled(t *testing.T) {
	o := newOrigin(okBody)
	c := cache.MustNew(cache.Config{})
	rt := c.Transport(o)
	get(t, rt, "GET", u)
	o.set(0, "", context.Canceled)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, want := getCtx(t, ctx, rt, "GET", u), (result{Err: context.Canceled.Error()}); got != want {
		t.Errorf("GET with a canceled context = %+v, want %+v", got, want)
	}
}

func TestTransportFreshHit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(okBody)
		c := cache.MustNew(cache.Config{ServeFresh: true, TTL: 10 * time.Second})
		rt := c.Transport(o)
		steps := []struct {
			sleep time.Duration
			hdr   []string
			calls int64
			want  result
		}{
			{calls: 1, want: result{Status: 200, Body: okBody}},
			{sleep: 3 * time.Second, calls: 1, want: result{Status: 200, Body: okBody, Cache: "hit", Age: "3"}},
			{hdr: []string{"Cache-Control", "no-cache"}, calls: 2, want: result{Status: 200, Body: okBody}},
			{sleep: 9 * time.Second, calls: 2, want: result{Status: 200, Body: okBody, Cache: "hit", Age: "9"}},
			{sleep: time.Second, calls: 3, want: result{Status: 200, Body: okBody}}, // 10s: stale, origin asked
		}
		for i, s := range steps {
			time.Sleep(s.sleep)
			got := get(t, rt, "GET", u, s.hdr...)
			if diff := cmp.Diff(s.want, got); diff != "" {
				t.Errorf("step %d (-want +got):\n%s", i, diff)
			}
			if n := o.calls.Load(); n != s.calls {
				t.Errorf("step %d: origin calls = %d, want %d", i, n, s.calls)
			}
		}
		want := cache.Stats{Hits: 2, Misses: 3, Stores: 3}
		if diff := cmp.Diff(want, c.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

func TestTransportWithoutServeFreshAlwaysAsksOrigin(t *testing.T) {
	o := newOrigin(okBody)
	rt := cache.MustNew(cache.Config{}).Transport(o)
	for range 3 {
		if got := get(t, rt, "GET", u); got.Cache != "" {
			t.Errorf("GET = %+v, want the origin's response", got)
		}
	}
	if n := o.calls.Load(); n != 3 {
		t.Errorf("origin calls = %d, want 3", n)
	}
}

func TestTransportNotStored(t *testing.T) {
	tests := []struct {
		name   string
		method string
		reqHdr []string
		resHdr http.Header
		status int
		body   string
	}{
		{name: "POST", method: "POST"},
		{name: "response no-store", resHdr: http.Header{"Cache-Control": {"max-age=60, no-store"}}},
		{name: "response private", resHdr: http.Header{"Cache-Control": {`private="x-a, x-b"`}}},
		{name: "Set-Cookie", resHdr: http.Header{"Set-Cookie": {"s=1"}}},
		{name: "Vary on an unlisted header", resHdr: http.Header{"Vary": {"Accept-Encoding"}}},
		{name: "Vary *", resHdr: http.Header{"Vary": {"*"}}},
		{name: "request no-store", reqHdr: []string{"Cache-Control", "no-store"}},
		{name: "Authorization", reqHdr: []string{"Authorization", "Bearer x"}},
		{name: "201", status: 201},
		{name: "body over MaxBodyBytes", body: strings.Repeat("x", 17)},
		{name: "HEAD", method: "HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(okBody)
			if tt.body != "" {
				o.body = tt.body
			}
			if tt.status != 0 {
				o.status = tt.status
			}
			o.header = tt.resHdr
			c := cache.MustNew(cache.Config{MaxBodyBytes: 16, Methods: []string{"GET", "HEAD", "OPTIONS"}})
			rt := c.Transport(o)
			method := tt.method
			if method == "" {
				method = "GET"
			}
			get(t, rt, method, u, tt.reqHdr...)
			if n := c.Len(); n != 0 {
				t.Errorf("Len after %s = %d, want 0 (not stored)", tt.name, n)
			}
			o.set(0, "", errRefused)
			if got, want := get(t, rt, method, u, tt.reqHdr...), (result{Err: errRefused.Error()}); got != want {
				t.Errorf("after failure: %+v, want %+v", got, want)
			}
		})
	}
}

func TestTransportPartialBodyNotStored(t *testing.T) {
	o := newOrigin("0123456789")
	c := cache.MustNew(cache.Config{})
	rt := c.Transport(o)
	req, _ := http.NewRequest("GET", u, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := c.Len(); n != 0 {
		t.Errorf("Len after a body closed early = %d, want 0", n)
	}
	get(t, rt, "GET", u)
	if n := c.Len(); n != 1 {
		t.Errorf("Len after a body read to the end = %d, want 1", n)
	}
}

func TestTransportBodyGrowsPastLimitWithoutContentLength(t *testing.T) {
	body := strings.Repeat("y", 100)
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1,
			Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	})
	c := cache.MustNew(cache.Config{MaxBodyBytes: 50})
	if got := get(t, c.Transport(base), "GET", u); got.Body != body {
		t.Errorf("body = %q, want the origin's full body", got.Body)
	}
	if n := c.Len(); n != 0 {
		t.Errorf("Len = %d, want 0: the body outgrew MaxBodyBytes", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportHeadFromGet(t *testing.T) {
	o := newOrigin(okBody)
	c := cache.MustNew(cache.Config{ServeFresh: true})
	rt := c.Transport(o)
	get(t, rt, "GET", u)
	req, _ := http.NewRequest("HEAD", u, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := fmt.Sprintf("%d %s len=%d body=%q", resp.StatusCode, resp.Header.Get("Keel-Cache"), resp.ContentLength, b)
	if want := `200 hit len=2 body=""`; got != want {
		t.Errorf("HEAD = %s, want %s", got, want)
	}
	if n := o.calls.Load(); n != 1 {
		t.Errorf("origin calls = %d, want 1", n)
	}
}

func TestTransportKeys(t *testing.T) {
	tests := []struct {
		name       string
		url2       string
		hdr1, hdr2 []string
		shared     bool
	}{
		{name: "query order", url2: "http://api.test/items?a=1&b=2", shared: true},
		{name: "host case", url2: "http://API.test/items?a=1&b=2", shared: true},
		{name: "other query", url2: "http://api.test/items?a=1&b=3"},
		{name: "other path", url2: "http://api.test/item?a=1&b=2"},
		{name: "other host", url2: "http://api2.test/items?a=1&b=2"},
		{name: "other scheme", url2: "https://api.test/items?a=1&b=2"},
		{name: "Vary header differs", hdr1: []string{"Accept-Language", "en"}, hdr2: []string{"Accept-Language", "de"}},
		{name: "Vary header same", hdr1: []string{"Accept-Language", "en"}, hdr2: []string{"Accept-Language", "en"}, shared: true},
		{name: "unlisted header differs", hdr1: []string{"X-Trace", "1"}, hdr2: []string{"X-Trace", "2"}, shared: true},
		{name: "credential differs", hdr1: []string{"Authorization", "Bearer a"}, hdr2: []string{"Authorization", "Bearer b"}},
		{name: "credential same", hdr1: []string{"Authorization", "Bearer a"}, hdr2: []string{"Authorization", "Bearer a"}, shared: true},
		{name: "credential vs none", hdr1: []string{"Authorization", "Bearer a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(okBody)
			o.header = http.Header{"Vary": {"Accept-Language"}}
			c := cache.MustNew(cache.Config{ServeFresh: true, Vary: []string{"accept-language", "Authorization"}})
			rt := c.Transport(o)
			get(t, rt, "GET", u, tt.hdr1...)
			url2 := tt.url2
			if url2 == "" {
				url2 = u
			}
			got := get(t, rt, "GET", url2, tt.hdr2...).Cache == "hit"
			if got != tt.shared {
				t.Errorf("second request served from the first's entry = %v, want %v", got, tt.shared)
			}
		})
	}
}

func TestLRUEviction(t *testing.T) {
	o := newOrigin(okBody)
	c := cache.MustNew(cache.Config{ServeFresh: true, MaxEntries: 2})
	rt := c.Transport(o)
	get(t, rt, "GET", "http://a.test/1")
	get(t, rt, "GET", "http://a.test/2")
	get(t, rt, "GET", "http://a.test/1") // hit: /1 is now the most recent
	get(t, rt, "GET", "http://a.test/3") // evicts /2
	var got []string
	for _, p := range []string{"/3", "/1", "/2"} {
		got = append(got, p+":"+get(t, rt, "GET", "http://a.test"+p).Cache)
	}
	// /3 and /1 were kept; /2 was evicted, so it came from the origin (and
	// its store evicted /3, the least recent then).
	want := []string{"/3:hit", "/1:hit", "/2:"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after eviction (-want +got):\n%s", diff)
	}
	if n, ev := c.Len(), c.Stats().Evictions; n != 2 || ev != 2 {
		t.Errorf("Len, Evictions = %d, %d; want 2, 2", n, ev)
	}
}

func TestMaxBytesEviction(t *testing.T) {
	o := newOrigin("0123456789")
	c := cache.MustNew(cache.Config{MaxBytes: 25})
	rt := c.Transport(o)
	for i := range 3 {
		get(t, rt, "GET", fmt.Sprintf("http://a.test/%d", i))
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d, want 2 (30 bytes > MaxBytes 25)", n)
	}
	// A body larger than MaxBytes alone is not stored and evicts nothing.
	o.set(200, strings.Repeat("L", 26), nil)
	get(t, rt, "GET", "http://a.test/large")
	if n, ev := c.Len(), c.Stats().Evictions; n != 2 || ev != 1 {
		t.Errorf("after a 26-byte body: Len, Evictions = %d, %d; want 2, 1", n, ev)
	}
}

func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(okBody)
		rec := &keeltest.Recorder{}
		c := cache.MustNew(cache.Config{Name: "items", Observer: rec, ServeFresh: true})
		rt := c.Transport(o)
		get(t, rt, "GET", u)
		time.Sleep(2 * time.Second)
		get(t, rt, "GET", u)
		time.Sleep(20 * time.Second)
		o.set(502, "", nil)
		get(t, rt, "GET", u)
		evs := rec.Events()
		if len(evs) != 2 {
			t.Fatalf("events = %v, want 2", rec.Kinds())
		}
		type ev struct {
			Kind     keel.EventKind
			Policy   string
			Name     string
			Duration time.Duration
			Err      string
		}
		var got []ev
		for _, e := range evs {
			s := ""
			if e.Err != nil {
				s = e.Err.Error()
			}
			got = append(got, ev{e.Kind, e.Policy, e.Name, e.Duration, s})
		}
		want := []ev{
			{keel.EventReplayed, "cache", "items", 2 * time.Second, ""},
			{keel.EventFallback, "cache", "items", 22 * time.Second, "cache: origin answered 502 Bad Gateway"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if se, ok := errors.AsType[*cache.StatusError](evs[1].Err); !ok || se.StatusCode != 502 {
			t.Errorf("stale event Err = %#v, want *StatusError{502}", evs[1].Err)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	o := newOrigin(okBody)
	c := cache.MustNew(cache.Config{ServeFresh: true, MaxEntries: 8})
	rt := c.Transport(o)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if i%50 == 25 && g == 0 {
					o.set(503, "", nil)
				} else if i%50 == 0 && g == 0 {
					o.set(200, okBody, nil)
				}
				url := fmt.Sprintf("http://a.test/%d", (g*7+i)%12)
				got := get(t, rt, "GET", url)
				if got.Status == 200 && got.Body != okBody {
					t.Errorf("GET %s = %+v, want body %q", url, got, okBody)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 8 {
		t.Errorf("Len = %d, want <= MaxEntries 8", n)
	}
}

func TestServedResponseIsIndependent(t *testing.T) {
	o := newOrigin(okBody)
	c := cache.MustNew(cache.Config{ServeFresh: true})
	rt := c.Transport(o)
	get(t, rt, "GET", u)
	req, _ := http.NewRequest("GET", u, nil)
	r1, _ := rt.RoundTrip(req)
	r1.Header.Set("Content-Type", "changed")
	b1, _ := io.ReadAll(r1.Body)
	b1[0] = 'X'
	r1.Body.Close()
	r2, _ := rt.RoundTrip(req)
	defer r2.Body.Close()
	b2, _ := io.ReadAll(r2.Body)
	if got := r2.Header.Get("Content-Type") + " " + string(b2); got != "text/plain "+okBody {
		t.Errorf("second hit = %q, want %q: a served response shares nothing writable", got, "text/plain "+okBody)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  cache.Config
		want string
	}{
		{cache.Config{}, ""},
		{cache.Config{TTL: -1}, "cache: Config.TTL is -1ns, want >= 0"},
		{cache.Config{MaxStale: -1}, "cache: Config.MaxStale is -1ns, want >= 0"},
		{cache.Config{MaxEntries: -1}, "cache: Config.MaxEntries is -1, want >= 0"},
		{cache.Config{MaxBodyBytes: -1}, "cache: Config.MaxBodyBytes is -1, want >= 0"},
		{cache.Config{MaxBytes: -1}, "cache: Config.MaxBytes is -1, want >= 0"},
		{cache.Config{Methods: []string{"GET", "POST"}}, "cache: Config.Methods[1] is POST, which is not a safe method"},
		{cache.Config{Methods: []string{"G ET"}}, `cache: Config.Methods[0] "G ET" is not a method token`},
		{cache.Config{Vary: []string{"Accept:"}}, `cache: Config.Vary[0] "Accept:" is not a header name`},
		{cache.Config{StaleStatuses: []int{503, 99}}, "cache: Config.StaleStatuses[1] is 99, want 100..599"},
		{cache.Config{StaleStatuses: []int{200}}, "cache: Config.StaleStatuses lists 200, the status that is stored"},
		{cache.Config{Header: "X Cache"}, `cache: Config.Header "X Cache" is not a header name`},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
		if _, err := cache.New(tt.cfg); (err != nil) != (tt.want != "") {
			t.Errorf("New(%+v) error = %v, want error %v", tt.cfg, err, tt.want != "")
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNew with an invalid Config did not panic")
		}
	}()
	cache.MustNew(cache.Config{TTL: -1})
}
