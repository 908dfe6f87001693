package idempotency_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/memstore"
)

const benchBody = `{"amount":1000,"currency":"eur","customer":"cus_123"}`

// benchHandler is a small JSON API handler.
var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"id":"ch_1","status":"succeeded"}`)
})

// reusable is a request whose body and key are reset for every run.
type reusable struct {
	r    *http.Request
	body strings.Reader
	rc   readCloser
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func newReusable() *reusable {
	q := &reusable{r: httptest.NewRequest(http.MethodPost, "/charges?expand=customer", nil)}
	q.r.Header.Set("Content-Type", "application/json")
	q.r.Header.Set("Authorization", "Bearer sk_test_123")
	q.r.Header["Idempotency-Key"] = []string{""}
	q.rc = readCloser{&q.body}
	return q
}

func (q *reusable) next(key string) *http.Request {
	q.body.Reset(benchBody)
	q.r.Body = q.rc
	q.r.ContentLength = int64(len(benchBody))
	q.r.Header["Idempotency-Key"][0] = key
	return q.r
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "8e03978e-40d5-43e8-" + strconv.Itoa(1000000+i)
	}
	return out
}

func middlewareForBench(tb testing.TB) (http.Handler, *memstore.Store) {
	st := memstore.New()
	m, err := idempotency.New(idempotency.Config{Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	return m.Wrap(benchHandler), st
}

// reapAll empties st, so that a benchmark of first executions measures the
// middleware rather than the garbage collector scanning millions of records.
func reapAll(b *testing.B, st *memstore.Store) {
	b.StopTimer()
	if _, err := st.Reap(b.Context(), time.Now().Add(48*time.Hour), 0); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkMiddleware compares the bare handler with the middleware over
// memstore, for a first execution (a new key every request) and a replay.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		q := newReusable()
		b.ReportAllocs()
		for b.Loop() {
			benchHandler.ServeHTTP(httptest.NewRecorder(), q.next("k"))
		}
	})
	b.Run("first", func(b *testing.B) {
		h, st := middlewareForBench(b)
		q := newReusable()
		ks := keys(4096)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%len(ks) == 0 {
				reapAll(b, st)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, q.next(ks[i%len(ks)]))
			if w.Code != http.StatusCreated {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Run("replay", func(b *testing.B) {
		h, _ := middlewareForBench(b)
		q := newReusable()
		h.ServeHTTP(httptest.NewRecorder(), q.next("replayed-key"))
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, q.next("replayed-key"))
			if w.Header().Get("Idempotent-Replayed") != "true" {
				b.Fatal("not replayed")
			}
		}
	})
}

// BenchmarkMiddlewareParallel runs first executions from all Ps against one
// memstore.
// Records are reaped by the same goroutines every 4096 requests.
func BenchmarkMiddlewareParallel(b *testing.B) {
	h, st := middlewareForBench(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		q := newReusable()
		ks := keys(4096)
		for pb.Next() {
			i := n.Add(1)
			if i%4096 == 0 {
				_, _ = st.Reap(b.Context(), time.Now().Add(48*time.Hour), 0)
			}
			h.ServeHTTP(httptest.NewRecorder(), q.next(ks[i%4096]+"-"+strconv.FormatInt(i, 10)))
		}
	})
}

func BenchmarkParseKey(b *testing.B) {
	v := []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = idempotency.ParseKey(v)
	}
}

// TestMiddlewareAllocs bounds the allocations the middleware adds to a
// request over memstore: at most 30 more than the bare handler, for a first
// execution and for a replay.
func TestMiddlewareAllocs(t *testing.T) {
	q := newReusable()
	bare := testing.AllocsPerRun(200, func() { benchHandler.ServeHTTP(httptest.NewRecorder(), q.next("k")) })
	h, _ := middlewareForBench(t)
	ks := keys(1000)
	i := 0
	first := testing.AllocsPerRun(200, func() {
		h.ServeHTTP(httptest.NewRecorder(), q.next(ks[i]))
		i++
	})
	h.ServeHTTP(httptest.NewRecorder(), q.next("replayed-key"))
	replay := testing.AllocsPerRun(200, func() { h.ServeHTTP(httptest.NewRecorder(), q.next("replayed-key")) })
	t.Logf("allocs per request: bare %.0f, first execution %.0f, replay %.0f", bare, first, replay)
	if first-bare > 30 || replay-bare > 30 {
		t.Errorf("middleware adds %.0f allocs (first execution) and %.0f (replay), want at most 30", first-bare, replay-bare)
	}
}
