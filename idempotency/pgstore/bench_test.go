package pgstore_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/idempotency"
)

var benchResp = idempotency.Response{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/orders/1"}},
	Body:   []byte(`{"id":1,"status":"created","amount":1000,"currency":"eur"}`),
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkClaimComplete: a first execution's store traffic, one claim and
// one complete of a new key (two round trips).
func BenchmarkClaimComplete(b *testing.B) {
	s := newStore(b, newPool(b, nil))
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
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

func BenchmarkClaimCompleteParallel(b *testing.B) {
	s := newStore(b, newPool(b, nil))
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
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
func completed(b *testing.B) (get func() (idempotency.Record, error), claim func() (idempotency.ClaimResult, error)) {
	s := newStore(b, newPool(b, nil))
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
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

// BenchmarkReplayGet: reading a completed record (one SELECT).
func BenchmarkReplayGet(b *testing.B) {
	get, _ := completed(b)
	b.ReportAllocs()
	for b.Loop() {
		if rec, err := get(); err != nil || rec.Response == nil {
			b.Fatal(rec, err)
		}
	}
	reportOps(b)
}

// BenchmarkReplayClaim: the middleware's replay path, a claim that finds the
// completed record and returns it (one INSERT … ON CONFLICT statement).
func BenchmarkReplayClaim(b *testing.B) {
	_, claim := completed(b)
	b.ReportAllocs()
	for b.Loop() {
		if res, err := claim(); err != nil || res.Claimed {
			b.Fatal(res, err)
		}
	}
	reportOps(b)
}

func BenchmarkReplayGetParallel(b *testing.B) {
	get, _ := completed(b)
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

func BenchmarkReplayClaimParallel(b *testing.B) {
	_, claim := completed(b)
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
