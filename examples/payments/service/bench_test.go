package service

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/examples/internal/serve"
)

// newBenchService returns a service on a fresh data directory with no
// simulated work, so that the figures are the cost of the idempotency
// middleware and the two bbolt files.
func newBenchService(b *testing.B) *service {
	b.Helper()
	s, err := newService(config{
		Flags: serve.Flags{Name: "bench"}, data: b.TempDir(), lease: 10 * time.Second, maxWait: time.Second, seed: 1,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func postCharge(b *testing.B, h http.Handler, key string) {
	req := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(body1234))
	req.Header.Set("Idempotency-Key", key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("POST /charges: %d %s", rec.Code, rec.Body)
	}
}

// BenchmarkCharge is a first charge: claim, ledger append, completion; three
// synced bbolt commits.
func BenchmarkCharge(b *testing.B) {
	h := newBenchService(b).Handler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		postCharge(b, h, "k"+strconv.Itoa(i))
	}
}

// BenchmarkChargeParallel runs first charges concurrently; the boltstore
// group-commits, the ledger does not.
func BenchmarkChargeParallel(b *testing.B) {
	h := newBenchService(b).Handler()
	b.ReportAllocs()
	var n atomicCounter
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			postCharge(b, h, "k"+strconv.FormatInt(n.next(), 10))
		}
	})
}

// BenchmarkReplay is a retry of a completed charge: one read transaction.
func BenchmarkReplay(b *testing.B) {
	h := newBenchService(b).Handler()
	postCharge(b, h, "k")
	b.ReportAllocs()
	for b.Loop() {
		postCharge(b, h, "k")
	}
}

type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) next() int64 { return c.v.Add(1) }

const body1234 = `{"amount":1234,"currency":"EUR","customer":"c1"}`
