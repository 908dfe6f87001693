package idempotency_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
	"github.com/keelhq/keel/idempotency/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHTTPConformance(t *testing.T) {
	idempotencytest.RunHTTP(t, func(*testing.T) idempotency.Store { return memstore.New() })
}

func problemType(w *httptest.ResponseRecorder) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &p)
	return strings.TrimPrefix(p.Type, idempotency.ProblemTypeBase)
}

func TestDecisionTable(t *testing.T) {
	scopeErr := func(*http.Request) (string, error) { return "", errors.New("no tenant") }
	big := strings.Repeat("x", 101)
	tests := []struct {
		name     string
		cfg      idempotency.Config
		req      func() *http.Request
		status   int
		problem  string
		runs     int32
		recorded int
	}{
		{"GET passes through", idempotency.Config{}, func() *http.Request { return request("GET", "k1", "") }, 200, "", 1, 0},
		{"PUT passes through", idempotency.Config{}, func() *http.Request { return request("PUT", "k1", "x") }, 200, "", 1, 0},
		{"PUT protected when listed", idempotency.Config{Methods: []string{"PUT"}}, func() *http.Request { return request("PUT", "k1", "x") }, 200, "", 1, 1},
		{"no key, optional", idempotency.Config{}, func() *http.Request { return request("POST", "", "x") }, 200, "", 1, 0},
		{"no key, required", idempotency.Config{RequireKey: true}, func() *http.Request { return request("POST", "", "x") }, 400, "idempotency-key-missing", 0, 0},
		{"invalid key", idempotency.Config{}, func() *http.Request { return request("POST", "a, b", "x") }, 400, "idempotency-key-invalid", 0, 0},
		{"two key lines", idempotency.Config{}, func() *http.Request {
			r := request("POST", "a", "x")
			r.Header.Add("Idempotency-Key", "b")
			return r
		}, 400, "idempotency-key-invalid", 0, 0},
		{"key below MinKeyLength", idempotency.Config{MinKeyLength: 8}, func() *http.Request { return request("POST", "short", "x") }, 400, "idempotency-key-invalid", 0, 0},
		{"key at MinKeyLength", idempotency.Config{MinKeyLength: 8}, func() *http.Request { return request("POST", "12345678", "x") }, 200, "", 1, 1},
		{"custom header", idempotency.Config{Header: "X-Request-Key"}, func() *http.Request {
			r := request("POST", "", "x")
			r.Header.Set("X-Request-Key", "k")
			return r
		}, 200, "", 1, 1},
		{"scope error", idempotency.Config{Scope: scopeErr}, func() *http.Request { return request("POST", "k", "x") }, 400, "idempotency-request-invalid", 0, 0},
		{"body over the cap", idempotency.Config{MaxBodyBytes: 100}, func() *http.Request { return request("POST", "k", big) }, 413, "idempotency-request-invalid", 0, 0},
		{"body over the cap, length unknown", idempotency.Config{MaxBodyBytes: 100}, func() *http.Request {
			r := request("POST", "k", big)
			r.ContentLength = -1
			return r
		}, 413, "idempotency-request-invalid", 0, 0},
		{"body at the cap", idempotency.Config{MaxBodyBytes: 101}, func() *http.Request { return request("POST", "k", big) }, 200, "", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(200)
			h, st := wrap(t, tt.cfg, a)
			w := do(h, tt.req())
			if w.Code != tt.status || problemType(w) != tt.problem || a.runs.Load() != tt.runs || st.Len() != tt.recorded {
				t.Errorf("got status %d problem %q runs %d records %d; want %d %q %d %d (body %s)",
					w.Code, problemType(w), a.runs.Load(), st.Len(), tt.status, tt.problem, tt.runs, tt.recorded, w.Body)
			}
			if tt.problem != "" && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("problem without Cache-Control: no-store")
			}
		})
	}
}

func TestProblemBody(t *testing.T) {
	h, _ := wrap(t, idempotency.Config{Retention: time.Hour}, newApp(201))
	do(h, request("POST", "k", "a"))
	w := do(h, request("POST", "k", "b"))
	want := `{"type":"` + idempotency.ProblemTypeBase + `idempotency-key-reused","title":"Idempotency-Key is already used",` +
		`"status":422,"detail":"this Idempotency-Key was used for a different request; use a new key","retention_seconds":3600}` + "\n"
	if d := cmp.Diff(want, w.Body.String()); d != "" {
		t.Errorf("422 body (-want +got):\n%s", d)
	}
	wantHdr := http.Header{
		"Content-Type": {"application/problem+json"}, "Content-Length": {strconv.Itoa(len(want))},
		"Cache-Control": {"no-store"}, "X-Content-Type-Options": {"nosniff"}, "Idempotency-Retention": {"3600"},
	}
	if d := cmp.Diff(wantHdr, w.Header()); d != "" {
		t.Errorf("422 headers (-want +got):\n%s", d)
	}
}

func TestMismatchStatus(t *testing.T) {
	for _, status := range []int{400, 409, 422} {
		h, _ := wrap(t, idempotency.Config{MismatchStatus: status}, newApp(201))
		do(h, request("POST", "k", "a"))
		if w := do(h, request("POST", "k", "b")); w.Code != status || problemType(w) != "idempotency-key-reused" {
			t.Errorf("MismatchStatus %d: got %d %q", status, w.Code, problemType(w))
		}
	}
}

func TestSameKeyForms(t *testing.T) {
	a := newApp(201)
	h, _ := wrap(t, idempotency.Config{}, a)
	do(h, request("POST", `"8e03978e"`, "x"))
	w := do(h, request("POST", "8e03978e", "x"))
	if a.runs.Load() != 1 || w.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("quoted then bare key: runs %d replayed %q, want 1 true", a.runs.Load(), w.Header().Get("Idempotent-Replayed"))
	}
}

func TestFingerprintParts(t *testing.T) {
	tests := []struct {
		name   string
		cfg    idempotency.Config
		second func(*http.Request)
		want   int
	}{
		{"query order ignored", idempotency.Config{}, func(r *http.Request) { r.URL.RawQuery = "b=2&a=1" }, 201},
		{"query value", idempotency.Config{}, func(r *http.Request) { r.URL.RawQuery = "a=1&b=3" }, 422},
		{"method", idempotency.Config{}, func(r *http.Request) { r.Method = "PATCH" }, 422},
		{"path", idempotency.Config{}, func(r *http.Request) { r.URL.Path = "/orders/2" }, 422},
		{"route groups paths", idempotency.Config{Route: func(*http.Request) string { return "orders" }}, func(r *http.Request) { r.URL.Path = "/orders/2" }, 201},
		{"header not opted in", idempotency.Config{}, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 201},
		{"header opted in", idempotency.Config{FingerprintHeaders: []string{"content-type"}}, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(201)
			h, _ := wrap(t, tt.cfg, a)
			first := request("POST", "k", "body")
			first.URL.RawQuery = "a=1&b=2"
			first.Header.Set("Content-Type", "application/json")
			do(h, first)
			second := request("POST", "k", "body")
			second.URL.RawQuery = "a=1&b=2"
			second.Header.Set("Content-Type", "application/json")
			tt.second(second)
			if w := do(h, second); w.Code != tt.want {
				t.Errorf("second request: got %d, want %d", w.Code, tt.want)
			}
			if a.runs.Load() != 1 {
				t.Errorf("handler ran %d times, want 1", a.runs.Load())
			}
		})
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name string
		cfg  idempotency.Config
		runs int32
	}{
		{"default: per Authorization", idempotency.Config{}, 2},
		{"unscoped", idempotency.Config{Unscoped: true}, 1},
		{"custom scope", idempotency.Config{Scope: func(r *http.Request) (string, error) { return r.Header.Get("X-Tenant"), nil }}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(201)
			h, _ := wrap(t, tt.cfg, a)
			for _, auth := range []string{"Bearer alice", "Bearer bob"} {
				r := request("POST", "k", "x")
				r.Header.Set("Authorization", auth)
				r.Header.Set("X-Tenant", "acme")
				do(h, r)
			}
			if got := a.runs.Load(); got != tt.runs {
				t.Errorf("two clients, one key: handler ran %d times, want %d", got, tt.runs)
			}
		})
	}
}

func TestPersistence(t *testing.T) {
	// stored: the second request replays; otherwise it runs again.
	tests := []struct {
		status              int
		safeDefault, stripe bool
	}{
		{200, true, true}, {201, true, true}, {302, true, true},
		{400, true, true}, {401, true, false}, {404, true, true}, {409, true, true}, {422, true, true},
		{408, false, false}, {425, false, false}, {429, false, false}, {499, false, false},
		{500, false, true}, {502, false, true}, {503, false, true},
	}
	for _, tt := range tests {
		for _, p := range []idempotency.Persistence{idempotency.SafeDefault, idempotency.StripeV1} {
			want := tt.safeDefault
			if p == idempotency.StripeV1 {
				want = tt.stripe
			}
			if got := p.Stores(tt.status); got != want {
				t.Errorf("%v.Stores(%d) = %v, want %v", p, tt.status, got, want)
			}
			a := newApp(tt.status)
			h, st := wrap(t, idempotency.Config{Persistence: p}, a)
			do(h, request("POST", "k", "x"))
			w := do(h, request("POST", "k", "x"))
			replayed := w.Header().Get("Idempotent-Replayed") == "true"
			if replayed != want || w.Code != tt.status || (a.runs.Load() == 1) != want {
				t.Errorf("%v, handler status %d: second request replayed=%v status %d runs %d; want replayed=%v",
					p, tt.status, replayed, w.Code, a.runs.Load(), want)
			}
			if !want && st.Len() != 0 {
				t.Errorf("%v, status %d: %d records left, want the key released", p, tt.status, st.Len())
			}
		}
	}
}

func TestParsePersistence(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want idempotency.Persistence
		ok   bool
	}{{"", idempotency.SafeDefault, true}, {"safe-default", idempotency.SafeDefault, true}, {"Stripe-V1", idempotency.StripeV1, true}, {"complete", 0, false}} {
		got, err := idempotency.ParsePersistence(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParsePersistence(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	var p idempotency.Persistence
	if err := p.UnmarshalText([]byte("stripe-v1")); err != nil || p != idempotency.StripeV1 {
		t.Errorf("UnmarshalText(stripe-v1) = %v, %v", p, err)
	}
	if b, err := p.MarshalText(); string(b) != "stripe-v1" || err != nil {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
}

func TestPanic(t *testing.T) {
	for _, tt := range []struct {
		p          idempotency.Persistence
		wantStatus int // of the retry
		wantRuns   int32
	}{{idempotency.SafeDefault, 201, 2}, {idempotency.StripeV1, 500, 1}} {
		var runs atomic.Int32
		h, _ := wrap(t, idempotency.Config{Persistence: tt.p}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if runs.Add(1) == 1 {
				panic("boom")
			}
			w.WriteHeader(201)
		}))
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("%v: recovered %v, want the handler's panic to continue", tt.p, r)
				}
			}()
			do(h, request("POST", "k", "x"))
		}()
		w := do(h, request("POST", "k", "x"))
		if w.Code != tt.wantStatus || runs.Load() != tt.wantRuns {
			t.Errorf("%v: retry after a panic: status %d runs %d, want %d %d", tt.p, w.Code, runs.Load(), tt.wantStatus, tt.wantRuns)
		}
	}
}

func TestLargeAndStreamedResponsesAreNotStored(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"over MaxResponseBytes", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("a", 60)))
			_, _ = w.Write([]byte(strings.Repeat("b", 60)))
		}},
		{"flushed", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("part"))
			http.NewResponseController(w).Flush() //nolint:errcheck // the recorder always flushes
			_, _ = w.Write([]byte("rest"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			h, st := wrap(t, idempotency.Config{MaxResponseBytes: 100}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				runs.Add(1)
				tt.h(w, r)
			}))
			var want string
			for range 2 {
				w := do(h, request("POST", "k", "x"))
				if want == "" {
					want = w.Body.String()
				} else if w.Body.String() != want {
					t.Errorf("body %q, want %q", w.Body.String(), want)
				}
			}
			if runs.Load() != 2 || st.Len() != 0 {
				t.Errorf("runs %d records %d, want 2 0 (not stored, key released)", runs.Load(), st.Len())
			}
		})
	}
}

func TestClientGoneStillCompletes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	a := newApp(201)
	h, _ := wrap(t, idempotency.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the client disconnects while the handler runs
		a.ServeHTTP(w, r)
	}))
	do(h, request("POST", "k", "x").WithContext(ctx))
	w := do(h, request("POST", "k", "x"))
	if w.Header().Get("Idempotent-Replayed") != "true" || a.runs.Load() != 1 {
		t.Errorf("after the first client left: replayed %q runs %d, want the stored outcome replayed", w.Header().Get("Idempotent-Replayed"), a.runs.Load())
	}
}

func TestEvents(t *testing.T) {
	obs := &events{}
	a := newApp(201)
	h, _ := wrap(t, idempotency.Config{Observer: obs, Name: "orders"}, a)
	const key = "secret-key-123"
	do(h, request("POST", key, "x"))
	do(h, request("POST", key, "x"))
	do(h, request("POST", key, "y"))
	do(h, request("POST", "bad key", "y"))
	got := obs.take()
	want := []string{"acquired", "success", "replayed", "rejected/key_reused", "rejected/invalid"}
	if d := cmp.Diff(want, kinds(got)); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	for _, e := range got {
		if e.Policy != "idempotency" || e.Name != "orders" || e.Time.IsZero() {
			t.Errorf("event %v: Policy %q Name %q Time %v", e.Kind, e.Policy, e.Name, e.Time)
		}
		if e.Err != nil && strings.Contains(e.Err.Error(), key) {
			t.Errorf("event %v error %q reveals the key", e.Kind, e.Err)
		}
	}

	// A store failure.
	h, _ = wrap(t, idempotency.Config{Observer: obs, Store: failingStore{memstore.New()}}, a)
	if w := do(h, request("POST", key, "x")); w.Code != 503 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("store down: status %d Retry-After %q, want 503 1", w.Code, w.Header().Get("Retry-After"))
	}
	got = obs.take()
	if len(got) != 1 || got[0].Kind != keel.EventFailure || !errors.Is(got[0].Err, idempotency.ErrUnavailable) || !errors.Is(got[0].Err, errStore) {
		t.Errorf("store down: events %+v, want one failure matching ErrUnavailable and the store's error", got)
	}
}

var errStore = errors.New("connection refused")

type failingStore struct{ idempotency.Store }

func (failingStore) Claim(context.Context, idempotency.ClaimRequest) (idempotency.ClaimResult, error) {
	return idempotency.ClaimResult{}, errStore
}

func TestConfigValidate(t *testing.T) {
	st := memstore.New()
	tests := []struct {
		name string
		cfg  idempotency.Config
		want string // substring of the error; "" for valid
	}{
		{"zero but store", idempotency.Config{Store: st}, ""},
		{"no store", idempotency.Config{}, "Config.Store is nil"},
		{"bad header", idempotency.Config{Store: st, Header: "Bad Header"}, "Config.Header"},
		{"MinKeyLength", idempotency.Config{Store: st, MinKeyLength: 256}, "Config.MinKeyLength"},
		{"MaxBodyBytes", idempotency.Config{Store: st, MaxBodyBytes: -1}, "Config.MaxBodyBytes"},
		{"MaxResponseBytes", idempotency.Config{Store: st, MaxResponseBytes: -1}, "Config.MaxResponseBytes"},
		{"scope and unscoped", idempotency.Config{Store: st, Unscoped: true, Scope: idempotency.CredentialScope}, "Config.Scope and Config.Unscoped"},
		{"lease", idempotency.Config{Store: st, Lease: -1}, "Config.Lease"},
		{"retention", idempotency.Config{Store: st, Retention: -1}, "Config.Retention"},
		{"retention below lease", idempotency.Config{Store: st, Retention: time.Second}, "shorter than the lease"},
		{"max wait", idempotency.Config{Store: st, MaxWait: -1}, "Config.MaxWait"},
		{"heartbeat", idempotency.Config{Store: st, HeartbeatInterval: 30 * time.Second}, "Config.HeartbeatInterval"},
		{"heartbeat off", idempotency.Config{Store: st, HeartbeatInterval: -1}, ""},
		{"persistence", idempotency.Config{Store: st, Persistence: 9}, "Config.Persistence"},
		{"mismatch status", idempotency.Config{Store: st, MismatchStatus: 418}, "Config.MismatchStatus"},
		{"method", idempotency.Config{Store: st, Methods: []string{""}}, "Config.Methods"},
		{"fingerprint header", idempotency.Config{Store: st, FingerprintHeaders: []string{"a b"}}, "Config.FingerprintHeaders"},
		{"replay set-cookie", idempotency.Config{Store: st, ReplayHeaders: []string{"set-cookie"}}, "Set-Cookie, which is never replayed"},
		{"replay connection", idempotency.Config{Store: st, ReplayHeaders: []string{"Connection"}}, "never replayed"},
		{"store retry after", idempotency.Config{Store: st, StoreRetryAfter: -1}, "Config.StoreRetryAfter"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
		if _, nerr := idempotency.New(tt.cfg); (nerr == nil) != (err == nil) {
			t.Errorf("%s: New error %v disagrees with Validate %v", tt.name, nerr, err)
		}
	}
}

func TestMustNewPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustNew with no store did not panic")
		}
	}()
	idempotency.MustNew(idempotency.Config{})
}

func TestReplayHeaders(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("X-Request-Id", "abc")
		h.Set("Set-Cookie", "s=1")
		h["Link"] = []string{"</a>", "</b>"}
		w.WriteHeader(http.StatusTeapot) // a 4xx: stored
		w.WriteHeader(http.StatusOK)     // superfluous: ignored
		_, _ = w.Write([]byte("body"))
	})
	tests := []struct {
		name   string
		replay []string
		want   http.Header
	}{
		{"default allowlist", nil, http.Header{"Content-Type": {"text/plain"}, "Link": {"</a>", "</b>"}}},
		{"custom allowlist", []string{"x-request-id"}, http.Header{"X-Request-Id": {"abc"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := wrap(t, idempotency.Config{ReplayHeaders: tt.replay}, handler)
			first := do(h, request("POST", "k", "x"))
			if first.Code != http.StatusTeapot || first.Header().Get("Set-Cookie") != "s=1" || first.Header().Get("X-Request-Id") != "abc" {
				t.Errorf("first response: %d %v; want 418 with all the handler's headers", first.Code, first.Header())
			}
			w := do(h, request("POST", "k", "x"))
			got := w.Header().Clone()
			for _, added := range []string{"Idempotent-Replayed", "Idempotency-Retention", "Content-Length"} {
				if got.Get(added) == "" {
					t.Errorf("replay lacks %s", added)
				}
				got.Del(added)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("replayed headers (-want +got):\n%s", d)
			}
			if w.Code != http.StatusTeapot || w.Body.String() != "body" {
				t.Errorf("replay: %d %q, want 418 \"body\"", w.Code, w.Body)
			}
		})
	}
}
