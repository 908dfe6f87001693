package keelhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/memstore"
	"github.com/keelhq/keel/keelhttp"
)

func TestStatusOfIdempotency(t *testing.T) {
	type result struct {
		Status     int
		RetryAfter time.Duration
		Flag       string
	}
	conflict := &idempotency.ConflictError{KeyHash: "0123456789abcdef", Remaining: 2500 * time.Millisecond}
	storeErr := &idempotency.StoreError{Op: "Claim", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want result
	}{
		{"key missing", idempotency.ErrKeyMissing, result{400, 0, "IH"}},
		{"key invalid", idempotency.ErrKeyInvalid, result{400, 0, "IH"}},
		{"key parse error", parseKeyError(t), result{400, 0, "IH"}},
		{"request invalid", errors.Join(idempotency.ErrRequestInvalid, errors.New("no credentials")), result{400, 0, "IRI"}},
		{"request body too large", errors.Join(idempotency.ErrRequestInvalid, &http.MaxBytesError{Limit: 10}), result{413, 0, "IRI"}},
		{"key reused", idempotency.ErrKeyReused, result{422, 0, "IKR"}},
		{"in progress: conflict error (also keel.ErrRejected)", conflict, result{409, 3 * time.Second, "IIP"}},
		{"in progress: wrapped", fmt.Errorf("create order: %w", conflict), result{409, 3 * time.Second, "IIP"}},
		{"in progress: bare sentinel", idempotency.ErrInProgress, result{409, time.Second, "IIP"}},
		{"store unavailable", storeErr, result{503, time.Second, "ISU"}},
		{"store unavailable with hint", keel.WithRetryAfter(storeErr, 5*time.Second), result{503, 5 * time.Second, "ISU"}},
		{"store timed out: unavailable, not a timeout", &idempotency.StoreError{Op: "Claim", Err: context.DeadlineExceeded}, result{503, time.Second, "ISU"}},
		{"store call canceled by the caller", &idempotency.StoreError{Op: "Claim", Err: context.Canceled}, result{499, 0, "DC"}},
		{"MaxBytesError alone is not idempotency's", &http.MaxBytesError{Limit: 10}, result{500, 0, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(conflict, keel.ErrRejected) {
				t.Fatal("ConflictError no longer matches keel.ErrRejected; the ordering test is moot")
			}
			var got result
			got.Status, got.RetryAfter, got.Flag = keelhttp.StatusOf(tc.err)
			if got != tc.want {
				t.Errorf("StatusOf(%v): got %+v, want %+v", tc.err, got, tc.want)
			}
		})
	}
}

func parseKeyError(t *testing.T) error {
	t.Helper()
	_, err := idempotency.ParseKey([]string{`"unterminated`})
	if err == nil {
		t.Fatal("ParseKey accepted a malformed key")
	}
	return err
}

// TestStatusOfAgreesWithIdempotencyMiddleware checks that the error each
// idempotency rejection reports to the observer maps, through StatusOf, to
// the status and Retry-After the middleware itself answered with.
func TestStatusOfAgreesWithIdempotencyMiddleware(t *testing.T) {
	type answer struct {
		Status     int
		RetryAfter string
	}
	for _, tc := range []struct {
		name string
		cfg  func(*idempotency.Config)
		req  func() *http.Request
		want answer
	}{
		{"key missing", func(c *idempotency.Config) { c.RequireKey = true },
			func() *http.Request { return post("", "{}") }, answer{400, ""}},
		{"key invalid", nil, func() *http.Request { return post(`"x`, "{}") }, answer{400, ""}},
		{"scope unknown", func(c *idempotency.Config) {
			c.Unscoped = false
			c.Scope = func(*http.Request) (string, error) { return "", errors.New("no credentials") }
		}, func() *http.Request { return post("k1", "{}") }, answer{400, ""}},
		{"body too large (Content-Length)", func(c *idempotency.Config) { c.MaxBodyBytes = 4 },
			func() *http.Request { return post("k1", "0123456789") }, answer{413, ""}},
		{"body too large (streamed)", func(c *idempotency.Config) { c.MaxBodyBytes = 4 },
			func() *http.Request { r := post("k1", "0123456789"); r.ContentLength = -1; return r }, answer{413, ""}},
		{"store unavailable", func(c *idempotency.Config) { c.Store = failingStore{c.Store} },
			func() *http.Request { return post("k1", "{}") }, answer{503, "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events []keel.Event
			cfg := idempotency.Config{
				Store:    &memstore.Store{},
				Unscoped: true,
				Observer: keel.ObserverFunc(func(_ context.Context, e keel.Event) { events = append(events, e) }),
			}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			h := idempotency.MustNew(cfg).Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				t.Error("handler ran")
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req())
			got := answer{w.Code, w.Header().Get("Retry-After")}
			if got != tc.want {
				t.Errorf("middleware answered %+v, want %+v", got, tc.want)
			}
			if len(events) != 1 || events[0].Err == nil {
				t.Fatalf("events: got %+v, want one carrying an error", events)
			}
			checkAgrees(t, events[0].Err, got.Status, got.RetryAfter)
		})
	}
}

// TestStatusOfAgreesWithIdempotencyConflicts covers the answers that need a
// record: a key reused with another body, and a key in progress.
func TestStatusOfAgreesWithIdempotencyConflicts(t *testing.T) {
	var mu sync.Mutex
	var rejected []keel.Event
	started, release := make(chan struct{}), make(chan struct{})
	m := idempotency.MustNew(idempotency.Config{
		Store:    &memstore.Store{},
		Unscoped: true,
		Observer: keel.ObserverFunc(func(_ context.Context, e keel.Event) {
			if e.Kind == keel.EventRejected {
				mu.Lock()
				rejected = append(rejected, e)
				mu.Unlock()
			}
		}),
	})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		w.WriteHeader(http.StatusCreated)
	}))
	first := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, post("k1", `{"a":1}`))
		first <- w.Code
	}()
	<-started

	inProgress := httptest.NewRecorder()
	h.ServeHTTP(inProgress, post("k1", `{"a":1}`))
	reused := httptest.NewRecorder()
	h.ServeHTTP(reused, post("k1", `{"a":2}`))
	close(release)
	if code := <-first; code != http.StatusCreated {
		t.Fatalf("first request: got %d, want 201", code)
	}

	if got := []int{inProgress.Code, reused.Code}; got[0] != 409 || got[1] != 422 {
		t.Fatalf("statuses: got %v, want [409 422]", got)
	}
	if len(rejected) != 2 {
		t.Fatalf("rejections: got %d events, want 2", len(rejected))
	}
	checkAgrees(t, rejected[0].Err, inProgress.Code, inProgress.Header().Get("Retry-After"))
	checkAgrees(t, rejected[1].Err, reused.Code, reused.Header().Get("Retry-After"))
}

func checkAgrees(t *testing.T, err error, status int, retryAfter string) {
	t.Helper()
	s, ra, flag := keelhttp.StatusOf(err)
	gotRA := ""
	if ra > 0 {
		gotRA = fmt.Sprint(int64(ra / time.Second))
	}
	if s != status || gotRA != retryAfter {
		t.Errorf("StatusOf(%v) = %d, Retry-After %q (flag %q); the middleware answered %d, Retry-After %q",
			err, s, gotRA, flag, status, retryAfter)
	}
}

func post(key, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	return r
}

type failingStore struct{ idempotency.Store }

func (failingStore) Claim(context.Context, idempotency.ClaimRequest) (idempotency.ClaimResult, error) {
	return idempotency.ClaimResult{}, errors.New("connection refused")
}

// BenchmarkStatusOf measures the mapping for an error matched by the
// idempotency rules and for two that pass through them (a deadline, and one
// that matches no rule).
func BenchmarkStatusOf(b *testing.B) {
	for _, bc := range []struct {
		name string
		err  error
	}{
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded)},
		{"in progress", &idempotency.ConflictError{KeyHash: "0123456789abcdef", Remaining: time.Second}},
		{"other", errors.New("boom")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, _ = keelhttp.StatusOf(bc.err)
			}
		})
	}
}

func TestStatusOfAllocs(t *testing.T) {
	err := error(&idempotency.ConflictError{KeyHash: "0123456789abcdef", Remaining: time.Second})
	if n := testing.AllocsPerRun(100, func() { _, _, _ = keelhttp.StatusOf(err) }); n != 0 {
		t.Errorf("StatusOf(*ConflictError): got %v allocs, want 0", n)
	}
}
