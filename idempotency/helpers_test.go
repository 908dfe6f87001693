package idempotency_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/memstore"
)

// app is a handler that counts its runs and answers with a fixed status and
// a body naming the run.
type app struct {
	runs   atomic.Int32
	status int
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.runs.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, "run "+string(rune('0'+n)))
}

func newApp(status int) *app { return &app{status: status} }

func wrap(t testing.TB, cfg idempotency.Config, next http.Handler) (http.Handler, *memstore.Store) {
	t.Helper()
	st := memstore.New()
	if cfg.Store == nil {
		cfg.Store = st
	}
	m, err := idempotency.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m.Wrap(next), st
}

func request(method, key, body string) *http.Request {
	r := httptest.NewRequest(method, "/orders", strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	return r
}

func do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// events records the events of an observer.
type events struct {
	mu sync.Mutex
	ev []keel.Event
}

func (e *events) Observe(_ context.Context, ev keel.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, ev)
}

func (e *events) take() []keel.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.ev
	e.ev = nil
	return out
}

func kinds(ev []keel.Event) []string {
	var out []string
	for _, e := range ev {
		s := e.Kind.String()
		if e.Reason != keel.ReasonNone {
			s += "/" + e.Reason.String()
		}
		out = append(out, s)
	}
	return out
}
