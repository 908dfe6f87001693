package idempotencytest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/idempotency"
)

// RunHTTP runs HTTP-level scenarios through idempotency.Middleware against
// the store newStore returns (called once per subtest): 50 concurrent
// identical requests with one key run the handler exactly once, with and
// without waiting; a replay is byte for byte; a reused key is refused; a
// released outcome runs again; a heartbeat keeps a long handler's lease; a
// lease that expires is taken over and the stale owner cannot overwrite the
// new outcome; a failing store answers 503. Two scenarios wait for leases of
// real time (about 2.5 s in all).
func RunHTTP(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		f    func(t *testing.T, s idempotency.Store)
	}{
		{"Concurrent50Conflict", func(t *testing.T, s idempotency.Store) { testConcurrent(t, s, 0) }},
		{"Concurrent50Wait", func(t *testing.T, s idempotency.Store) { testConcurrent(t, s, 10*time.Second) }},
		{"ReplayByteForByte", testReplayHTTP},
		{"KeyReused", testKeyReusedHTTP},
		{"ReleasedOutcomeRunsAgain", testReleasedHTTP},
		{"HeartbeatHoldsLease", testHeartbeatHTTP},
		{"TakeoverFencesStaleOwner", testTakeoverHTTP},
		{"StoreFailure", testStoreFailureHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			tt.f(t, s)
		})
	}
}

// counting is a handler that counts its executions and answers 201 with a
// body naming the execution.
type counting struct {
	runs atomic.Int32
	gate chan struct{} // when non-nil, each execution waits for it to close
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.runs.Add(1)
	body, _ := io.ReadAll(r.Body)
	if c.gate != nil {
		<-c.gate
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Location", "/things/1")
	w.Header()["Link"] = []string{"</a>; rel=a", "</b>; rel=b"}
	w.Header().Set("Set-Cookie", "session=secret")
	w.Header().Set("X-Not-Allowlisted", "1")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte{0, 'r', 'u', 'n'})
	_, _ = io.WriteString(w, strconv.Itoa(int(n)))
	_, _ = w.Write([]byte{0xff, 0})
	_, _ = w.Write(body)
}

func middleware(t *testing.T, cfg idempotency.Config, next http.Handler) http.Handler {
	t.Helper()
	m, err := idempotency.New(cfg)
	if err != nil {
		t.Fatalf("idempotency.New: %v", err)
	}
	return m.Wrap(next)
}

func post(key, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/things?b=2&a=1", strings.NewReader(body))
	r.Header.Set("Idempotency-Key", key)
	r.Header.Set("Authorization", "Bearer test-client")
	return r
}

// response is what a handler wrote.
type response struct {
	StatusCode int
	Header     http.Header
	body       []byte
}

func serve(h http.Handler, r *http.Request) *response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return &response{StatusCode: w.Code, Header: w.Header(), body: w.Body.Bytes()}
}

func readBody(_ *testing.T, resp *response) []byte { return resp.body }

func testConcurrent(t *testing.T, s idempotency.Store, maxWait time.Duration) {
	const n = 50
	c := &counting{gate: make(chan struct{})}
	h := middleware(t, idempotency.Config{Store: s, MaxWait: maxWait}, c)
	key := unique("key")
	resps := make([]*response, n)
	var wg sync.WaitGroup
	var answered atomic.Int32
	for i := range n {
		wg.Go(func() {
			resps[i] = serve(h, post(key, "payload"))
			answered.Add(1)
		})
	}
	if maxWait == 0 {
		// Every loser is answered while the winner is held.
		deadline := time.Now().Add(30 * time.Second)
		for answered.Load() < n-1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	} else {
		time.Sleep(100 * time.Millisecond) // let the losers start waiting
	}
	close(c.gate)
	wg.Wait()

	if got := c.runs.Load(); got != 1 {
		t.Fatalf("%d concurrent identical requests: handler ran %d times, want 1", n, got)
	}
	var fresh, replays, conflicts int
	var first []byte
	for i, resp := range resps {
		body := readBody(t, resp)
		switch {
		case resp.StatusCode == http.StatusConflict:
			conflicts++
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("response %d: 409 without Retry-After", i)
			}
			continue
		case resp.StatusCode != http.StatusCreated:
			t.Errorf("response %d: status %d, want 201 or 409", i, resp.StatusCode)
			continue
		case resp.Header.Get("Idempotent-Replayed") == "true":
			replays++
		default:
			fresh++
		}
		if first == nil {
			first = body
		} else if !bytes.Equal(body, first) {
			t.Errorf("response %d: body %q, want %q (the one execution's)", i, body, first)
		}
	}
	if fresh != 1 {
		t.Errorf("got %d executed responses, %d replays, %d conflicts; want exactly 1 executed", fresh, replays, conflicts)
	}
	if maxWait > 0 && replays != n-1 {
		t.Errorf("with MaxWait: got %d replays and %d conflicts, want %d replays", replays, conflicts, n-1)
	}
	if maxWait == 0 && conflicts != n-1 {
		t.Errorf("without MaxWait: got %d conflicts and %d replays while the first was in progress, want %d conflicts", conflicts, replays, n-1)
	}
}

func testReplayHTTP(t *testing.T, s idempotency.Store) {
	c := &counting{}
	h := middleware(t, idempotency.Config{Store: s}, c)
	key := unique("key")
	first := serve(h, post(key, "body\x00with zero"))
	firstBody := readBody(t, first)
	second := serve(h, post(key, "body\x00with zero"))
	secondBody := readBody(t, second)
	if got := c.runs.Load(); got != 1 {
		t.Fatalf("handler ran %d times for one key, want 1", got)
	}
	if second.StatusCode != first.StatusCode {
		t.Errorf("replayed status: got %d, want %d", second.StatusCode, first.StatusCode)
	}
	if !bytes.Equal(secondBody, firstBody) {
		t.Errorf("replayed body: got %q, want %q", secondBody, firstBody)
	}
	for _, name := range []string{"Content-Type", "Location", "Link"} {
		if d := cmp.Diff(first.Header.Values(name), second.Header.Values(name)); d != "" {
			t.Errorf("replayed %s header (-first +replay):\n%s", name, d)
		}
	}
	for _, name := range []string{"Set-Cookie", "X-Not-Allowlisted"} {
		if v := second.Header.Values(name); len(v) > 0 {
			t.Errorf("replay carries %s: %q; it must not", name, v)
		}
	}
	if got := second.Header.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("replay: Idempotent-Replayed = %q, want true", got)
	}
	if got := first.Header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("first response: Idempotent-Replayed = %q, want none", got)
	}
}

func wantProblem(t *testing.T, resp *response, status int, typ string) {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != status {
		t.Errorf("status: got %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", cc)
	}
	if !bytes.Contains(body, []byte(`"type":"`+idempotency.ProblemTypeBase+typ+`"`)) {
		t.Errorf("problem body %s: want type %s%s", body, idempotency.ProblemTypeBase, typ)
	}
}

func testKeyReusedHTTP(t *testing.T, s idempotency.Store) {
	c := &counting{}
	h := middleware(t, idempotency.Config{Store: s}, c)
	key := unique("key")
	serve(h, post(key, "amount=10"))
	wantProblem(t, serve(h, post(key, "amount=99")), http.StatusUnprocessableEntity, "idempotency-key-reused")
	// Another route with the same key is another request too.
	r := post(key, "amount=10")
	r.URL.Path = "/other"
	wantProblem(t, serve(h, r), http.StatusUnprocessableEntity, "idempotency-key-reused")
	if got := c.runs.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
}

func testReleasedHTTP(t *testing.T, s idempotency.Store) {
	var runs atomic.Int32
	h := middleware(t, idempotency.Config{Store: s}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if runs.Add(1) == 1 {
			http.Error(w, "database down", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	key := unique("key")
	if got := serve(h, post(key, "x")).StatusCode; got != http.StatusServiceUnavailable {
		t.Fatalf("first: status %d, want the handler's 503", got)
	}
	if got := serve(h, post(key, "x")).StatusCode; got != http.StatusCreated {
		t.Errorf("retry after a released 503: status %d, want 201 from a second execution", got)
	}
	resp := serve(h, post(key, "x"))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("third: status %d replayed %q, want the stored 201", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"))
	}
	if got := runs.Load(); got != 2 {
		t.Errorf("handler ran %d times, want 2", got)
	}
}

func testHeartbeatHTTP(t *testing.T, s idempotency.Store) {
	started := make(chan struct{})
	var startOnce sync.Once
	c := &counting{gate: make(chan struct{})}
	const lease = time.Second
	h := middleware(t, idempotency.Config{Store: s, Lease: lease, HeartbeatInterval: 100 * time.Millisecond, Retention: time.Minute},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			startOnce.Do(func() { close(started) })
			c.ServeHTTP(w, r)
		}))
	key := unique("key")
	done := make(chan *response, 1)
	go func() { done <- serve(h, post(key, "x")) }()
	waitStarted(t, started, done)
	time.Sleep(2 * lease) // twice the lease, renewed by heartbeats meanwhile
	resp := serve(h, post(key, "x"))
	close(c.gate)
	first := <-done
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("request after the first lease while the owner heartbeats: status %d, want 409", resp.StatusCode)
	}
	if first.StatusCode != http.StatusCreated || c.runs.Load() != 1 {
		t.Errorf("owner: status %d, runs %d; want 201, 1", first.StatusCode, c.runs.Load())
	}
}

// waitStarted waits until the first request's handler has started. If the
// request ends first (the store failed or refused the claim), the test fails
// with its status instead of waiting forever.
func waitStarted(t *testing.T, started <-chan struct{}, done <-chan *response) {
	t.Helper()
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("the first request ended before its handler ran: status %d %s", r.StatusCode, r.body)
	}
}

func testTakeoverHTTP(t *testing.T, s idempotency.Store) {
	const lease = 200 * time.Millisecond
	started, gate := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	h := middleware(t, idempotency.Config{Store: s, Lease: lease, HeartbeatInterval: -1, Retention: time.Minute},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := runs.Add(1)
			if n == 1 {
				close(started)
				<-gate
			}
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, strconv.Itoa(int(n)))
		}))
	key := unique("key")
	done := make(chan *response, 1)
	go func() { done <- serve(h, post(key, "x")) }()
	waitStarted(t, started, done)
	time.Sleep(lease + 100*time.Millisecond) // the lease ends without heartbeats
	second := serve(h, post(key, "x"))
	close(gate)
	first := <-done
	if got := readBody(t, second); second.StatusCode != http.StatusCreated || string(got) != "2" {
		t.Fatalf("request after the lease expired: %d %q, want 201 \"2\" from a takeover", second.StatusCode, got)
	}
	if got := readBody(t, first); string(got) != "1" {
		t.Errorf("stale owner's own response: %q, want \"1\" (its client still gets it)", got)
	}
	replay := serve(h, post(key, "x"))
	if got := readBody(t, replay); string(got) != "2" || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay after the takeover: %q replayed=%q, want \"2\" true: the stale owner must not overwrite it",
			got, replay.Header.Get("Idempotent-Replayed"))
	}
}

// failing is a Store whose every call fails.
type failing struct{ idempotency.Store }

var errDown = errors.New("store down")

func (failing) Claim(context.Context, idempotency.ClaimRequest) (idempotency.ClaimResult, error) {
	return idempotency.ClaimResult{}, errDown
}

func testStoreFailureHTTP(t *testing.T, s idempotency.Store) {
	c := &counting{}
	h := middleware(t, idempotency.Config{Store: failing{s}}, c)
	resp := serve(h, post(unique("key"), "x"))
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	wantProblem(t, resp, http.StatusServiceUnavailable, "idempotency-unavailable")
	if c.runs.Load() != 0 {
		t.Errorf("handler ran with the store down (fail closed): %d runs, want 0", c.runs.Load())
	}
	h = middleware(t, idempotency.Config{Store: failing{s}, FailOpen: true}, c)
	if got := serve(h, post(unique("key"), "x")).StatusCode; got != http.StatusCreated || c.runs.Load() != 1 {
		t.Errorf("FailOpen with the store down: status %d runs %d, want 201 1", got, c.runs.Load())
	}
}
