package idempotencytest

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/idempotency"
)

// Benchmark measures a store's traffic for the middleware's two paths, as
// sub-benchmarks that report ops/s: ClaimComplete (a first execution: one
// claim and one complete of a new key) and ReplayGet / ReplayClaim (reading a
// completed record, directly or through the claim the middleware makes), each
// also under RunParallel. newStore is called once per sub-benchmark and must
// return a ready store (migrated, scripts loaded):
//
//	func BenchmarkStore(b *testing.B) {
//		idempotencytest.Benchmark(b, func(b *testing.B) idempotency.Store { return newStore(b) })
//	}
func Benchmark(b *testing.B, newStore func(b *testing.B) idempotency.Store) {
	for _, bm := range []struct {
		name string
		f    func(*testing.B, idempotency.Store)
	}{
		{"ClaimComplete", benchClaimComplete},
		{"ClaimCompleteParallel", benchClaimCompleteParallel},
		{"ReplayGet", benchReplayGet},
		{"ReplayClaim", benchReplayClaim},
		{"ReplayGetParallel", benchReplayGetParallel},
		{"ReplayClaimParallel", benchReplayClaimParallel},
	} {
		b.Run(bm.name, func(b *testing.B) { bm.f(b, newStore(b)) })
	}
}

var benchResp = idempotency.Response{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/orders/1"}},
	Body:   []byte(`{"id":1,"status":"created","amount":1000,"currency":"eur"}`),
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// benchClaimComplete: a first execution's store traffic, one claim and one
// complete of a new key.
func benchClaimComplete(b *testing.B, s idempotency.Store) {
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := strconv.Itoa(i)
		req := idempotency.ClaimRequest{Scope: "bench", Key: k, Token: k, Now: now, Lease: time.Minute, Retention: time.Hour}
		if _, err := s.Claim(ctx, req); err != nil {
			b.Fatal(err)
		}
		if err := s.Complete(ctx, "bench", k, k, now, benchResp, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

func benchClaimCompleteParallel(b *testing.B, s idempotency.Store) {
	ctx := context.Background()
	now := time.Now()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := strconv.FormatInt(n.Add(1), 10)
			req := idempotency.ClaimRequest{Scope: "bench", Key: k, Token: k, Now: now, Lease: time.Minute, Retention: time.Hour}
			if _, err := s.Claim(ctx, req); err != nil {
				b.Error(err)
				return
			}
			if err := s.Complete(ctx, "bench", k, k, now, benchResp, time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b)
}

// completed stores one completed record for the replay benchmarks.
func completed(b *testing.B, s idempotency.Store) (get func() (idempotency.Record, error), claim func() (idempotency.ClaimResult, error)) {
	ctx := context.Background()
	now := time.Now()
	req := idempotency.ClaimRequest{Scope: "bench", Key: "k", Token: "t", Now: now, Lease: time.Minute, Retention: time.Hour}
	if _, err := s.Claim(ctx, req); err != nil {
		b.Fatal(err)
	}
	if err := s.Complete(ctx, "bench", "k", "t", now, benchResp, time.Hour); err != nil {
		b.Fatal(err)
	}
	req.Token = "other"
	return func() (idempotency.Record, error) { return s.Get(ctx, "bench", "k", now) },
		func() (idempotency.ClaimResult, error) { return s.Claim(ctx, req) }
}

// benchReplayGet: reading a completed record.
func benchReplayGet(b *testing.B, s idempotency.Store) {
	get, _ := completed(b, s)
	b.ReportAllocs()
	for b.Loop() {
		if rec, err := get(); err != nil || rec.Response == nil {
			b.Fatal(rec, err)
		}
	}
	reportOps(b)
}

// benchReplayClaim: the middleware's replay path, a claim that finds the
// completed record and returns it.
func benchReplayClaim(b *testing.B, s idempotency.Store) {
	_, claim := completed(b, s)
	b.ReportAllocs()
	for b.Loop() {
		if res, err := claim(); err != nil || res.Claimed {
			b.Fatal(res, err)
		}
	}
	reportOps(b)
}

func benchReplayGetParallel(b *testing.B, s idempotency.Store) {
	get, _ := completed(b, s)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b)
}

func benchReplayClaimParallel(b *testing.B, s idempotency.Store) {
	_, claim := completed(b, s)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := claim(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b)
}
