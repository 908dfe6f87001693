package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/memstore"
)

// countingStore counts the Complete and Release calls the middleware makes.
type countingStore struct {
	idempotency.Store
	completes, releases atomic.Int32
}

func (s *countingStore) Complete(ctx context.Context, scope, key, token string, now time.Time, resp idempotency.Response, retention time.Duration) error {
	s.completes.Add(1)
	return s.Store.Complete(ctx, scope, key, token, now, resp, retention)
}

func (s *countingStore) Release(ctx context.Context, scope, key, token string) error {
	s.releases.Add(1)
	return s.Store.Release(ctx, scope, key, token)
}

// selfCompleting is a handler that writes its response, completes the record
// itself through store (standing in for the store's transaction view), and
// marks the claim completed; then it writes extra, which must not be sent.
type selfCompleting struct {
	store idempotency.Store
	runs  atomic.Int32
	extra string
	fail  bool // Complete is "rolled back": MarkCompleted is not called
}

func (h *selfCompleting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.runs.Add(1)
	claim, ok := idempotency.ClaimFromContext(r.Context())
	if !ok {
		http.Error(w, "no claim", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Set-Cookie", "session=1") // sent, never stored
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"id":7}`)
	resp, err := claim.Response()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !h.fail {
		if err := h.store.Complete(r.Context(), claim.Scope(), claim.Key(), claim.Token(), time.Now(), resp, claim.Retention()); err != nil {
			panic(err)
		}
		claim.MarkCompleted()
	}
	_, _ = io.WriteString(w, h.extra)
}

func TestClaimCompletedByHandler(t *testing.T) {
	store := &countingStore{Store: memstore.New()}
	var ev events
	app := &selfCompleting{store: store.Store, extra: " and more"}
	h, _ := wrap(t, idempotency.Config{Store: store, Unscoped: true, Observer: &ev}, app)

	first := do(h, request(http.MethodPost, "k1", `{"n":1}`))
	if got, want := first.Code, http.StatusCreated; got != want {
		t.Fatalf("status: got %d, want %d (body %q)", got, want, first.Body)
	}
	if got, want := first.Body.String(), `{"id":7}`; got != want {
		t.Errorf("body sent: got %q, want %q (what the handler stored; writes after Response are dropped)", got, want)
	}
	if got, want := first.Header().Get("Set-Cookie"), "session=1"; got != want {
		t.Errorf("Set-Cookie sent: got %q, want %q", got, want)
	}
	if got := store.completes.Load() + store.releases.Load(); got != 0 {
		t.Errorf("the middleware called Complete or Release %d times, want 0", got)
	}
	if diff := cmp.Diff([]string{"acquired", "success"}, kinds(ev.take())); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	replay := do(h, request(http.MethodPost, "k1", `{"n":1}`))
	if replay.Code != first.Code || replay.Body.String() != first.Body.String() {
		t.Errorf("replay: got %d %q, want %d %q", replay.Code, replay.Body, first.Code, first.Body)
	}
	if replay.Header().Get("Idempotent-Replayed") != "true" || replay.Header().Get("Set-Cookie") != "" {
		t.Errorf("replay headers: got %v, want Idempotent-Replayed and no Set-Cookie", replay.Header())
	}
	if got := app.runs.Load(); got != 1 {
		t.Errorf("handler runs: got %d, want 1", got)
	}
}

// A handler whose own completion did not happen (its transaction rolled back)
// leaves the record to the middleware, which stores or releases as usual.
func TestClaimNotMarked(t *testing.T) {
	store := &countingStore{Store: memstore.New()}
	app := &selfCompleting{store: store.Store, fail: true}
	h, _ := wrap(t, idempotency.Config{Store: store, Unscoped: true}, app)
	w := do(h, request(http.MethodPost, "k1", `{}`))
	if got, want := w.Body.String(), `{"id":7}`; w.Code != http.StatusCreated || got != want {
		t.Errorf("got %d %q, want 201 %q", w.Code, got, want)
	}
	if got := store.completes.Load(); got != 1 {
		t.Errorf("middleware Complete calls: got %d, want 1", got)
	}
}

func TestClaimFromContextAbsent(t *testing.T) {
	ctxHas := func(r *http.Request) bool { _, ok := idempotency.ClaimFromContext(r.Context()); return ok }
	var got []bool
	h, _ := wrap(t, idempotency.Config{Unscoped: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, ctxHas(r))
		w.WriteHeader(http.StatusCreated)
	}))
	do(h, request(http.MethodPost, "", "{}"))   // no key: passes through
	do(h, request(http.MethodGet, "k1", ""))    // not protected
	do(h, request(http.MethodPost, "k1", "{}")) // claimed
	do(h, request(http.MethodPost, "k1", "{}")) // replayed: the handler does not run
	if diff := cmp.Diff([]bool{false, false, true}, got); diff != "" {
		t.Errorf("claim present per handler run (-want +got):\n%s", diff)
	}
	if _, ok := idempotency.ClaimFromContext(context.Background()); ok {
		t.Error("ClaimFromContext(Background): got a claim")
	}
}

func TestClaimFields(t *testing.T) {
	var claim idempotency.Claim
	h, _ := wrap(t, idempotency.Config{
		Scope:     func(*http.Request) (string, error) { return "tenant-1", nil },
		Retention: time.Hour,
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claim, _ = idempotency.ClaimFromContext(r.Context())
		type fields struct {
			Scope, Key string
			TokenLen   int
			Retention  time.Duration
		}
		got := fields{claim.Scope(), claim.Key(), len(claim.Token()), claim.Retention()}
		if want := (fields{"tenant-1", "k1", 32, time.Hour}); got != want {
			t.Errorf("claim: got %+v, want %+v", got, want)
		}
		resp, err := claim.Response()
		if err != nil || resp.Status != http.StatusOK || len(resp.Body) != 0 {
			t.Errorf("Response before any write: got %+v, %v; want 200, empty, nil", resp, err)
		}
	}))
	do(h, request(http.MethodPost, "k1", "{}"))
	if _, err := claim.Response(); err == nil {
		t.Error("Response after the handler returned: got nil error")
	}
}

func TestClaimResponseNotStorable(t *testing.T) {
	var err error
	h, _ := wrap(t, idempotency.Config{Unscoped: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claim, _ := idempotency.ClaimFromContext(r.Context())
		_, _ = io.WriteString(w, "streamed")
		w.(http.Flusher).Flush()
		_, err = claim.Response()
	}))
	do(h, request(http.MethodPost, "k1", "{}"))
	if !errors.Is(err, idempotency.ErrNotStorable) {
		t.Errorf("Response of a flushed response: got %v, want ErrNotStorable", err)
	}
}

// A heartbeat that runs after the handler's own completion finds its lease
// gone; that is no lost lease.
func TestClaimCompletedHeartbeatAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New()
		var ev events
		h, _ := wrap(t, idempotency.Config{Store: store, Unscoped: true, Observer: &ev,
			Lease: 3 * time.Second, HeartbeatInterval: time.Second},
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				claim, _ := idempotency.ClaimFromContext(r.Context())
				w.WriteHeader(http.StatusCreated)
				resp, _ := claim.Response()
				if err := store.Complete(r.Context(), claim.Scope(), claim.Key(), claim.Token(), time.Now(), resp, claim.Retention()); err != nil {
					t.Errorf("Complete: %v", err)
				}
				claim.MarkCompleted()
				time.Sleep(2500 * time.Millisecond) // two heartbeats find the record completed
			}))
		w := do(h, request(http.MethodPost, "k1", "{}"))
		if w.Code != http.StatusCreated {
			t.Errorf("status: got %d, want 201", w.Code)
		}
		if diff := cmp.Diff([]string{"acquired", "success"}, kinds(ev.take())); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

// A handler that completed the record and then panicked: the record stays
// completed; the middleware neither stores a 500 nor releases it.
func TestClaimCompletedThenPanic(t *testing.T) {
	store := &countingStore{Store: memstore.New()}
	var ev events
	h, _ := wrap(t, idempotency.Config{Store: store, Unscoped: true, Observer: &ev, Persistence: idempotency.StripeV1},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claim, _ := idempotency.ClaimFromContext(r.Context())
			w.WriteHeader(http.StatusAccepted)
			resp, _ := claim.Response()
			if err := store.Store.Complete(r.Context(), claim.Scope(), claim.Key(), claim.Token(), time.Now(), resp, claim.Retention()); err != nil {
				t.Errorf("Complete: %v", err)
			}
			claim.MarkCompleted()
			panic("after the commit")
		}))
	func() {
		defer func() {
			if p := recover(); p != "after the commit" {
				t.Errorf("panic: got %v, want it passed on", p)
			}
		}()
		do(h, request(http.MethodPost, "k1", "{}"))
	}()
	if got := store.completes.Load() + store.releases.Load(); got != 0 {
		t.Errorf("the middleware called Complete or Release %d times, want 0", got)
	}
	if diff := cmp.Diff([]string{"acquired", "success"}, kinds(ev.take())); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if w := do(h, request(http.MethodPost, "k1", "{}")); w.Code != http.StatusAccepted {
		t.Errorf("replay: got %d, want 202", w.Code)
	}
}

var _ keel.Observer = (*events)(nil)

// A handler completes the record itself, in the transaction of its business
// write (with pgstore: store.WithTx(tx).Complete); memstore stands in here.
func ExampleClaimFromContext() {
	store := memstore.New()
	m := idempotency.MustNew(idempotency.Config{Store: store, Unscoped: true})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claim, ok := idempotency.ClaimFromContext(r.Context())
		if !ok { // no key, or the store failed open: no record to complete
			w.WriteHeader(http.StatusCreated)
			return
		}
		// tx := pool.Begin(ctx); INSERT the order in tx; then:
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"order":7}`)
		resp, err := claim.Response()
		if err != nil {
			return // not storable: the middleware handles it
		}
		err = store.Complete(r.Context(), claim.Scope(), claim.Key(), claim.Token(), time.Now(), resp, claim.Retention())
		if err != nil {
			return // roll back tx; the middleware stores or releases as usual
		}
		// tx.Commit(ctx) succeeded:
		claim.MarkCompleted()
	}))
	for range 2 {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"item":1}`))
		r.Header.Set("Idempotency-Key", "order-7")
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String(), "replayed:", w.Header().Get("Idempotent-Replayed") == "true")
	}
	// Output:
	// 201 {"order":7} replayed: false
	// 201 {"order":7} replayed: true
}

func TestClaimResetResponse(t *testing.T) {
	h, _ := wrap(t, idempotency.Config{Unscoped: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claim, _ := idempotency.ClaimFromContext(r.Context())
		w.Header().Set("Location", "/orders/7")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"order":7}`)
		if err := claim.ResetResponse(); err != nil {
			t.Errorf("ResetResponse: %v", err)
		}
		http.Error(w, "try again", http.StatusServiceUnavailable)
	}))
	w := do(h, request(http.MethodPost, "k1", "{}"))
	if got, want := w.Code, http.StatusServiceUnavailable; got != want {
		t.Errorf("status: got %d, want %d", got, want)
	}
	if got, want := w.Body.String(), "try again\n"; got != want {
		t.Errorf("body: got %q, want %q", got, want)
	}
	if got := w.Header().Get("Location"); got != "" {
		t.Errorf("Location: got %q, want the discarded header gone", got)
	}
}
