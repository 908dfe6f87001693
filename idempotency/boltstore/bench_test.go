package boltstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/idempotency"
)

var benchResp = idempotency.Response{
	Status: 201,
	Header: map[string][]string{"Content-Type": {"application/json"}},
	Body:   []byte(`{"id":"ch_3MmlLrLkdIwHu7ix0snN0B15","amount":1099,"currency":"usd","status":"succeeded"}`),
}

// BenchmarkClaimComplete: a first execution's store work, a claim and a
// complete (two fsync'd write transactions), per op.
func BenchmarkClaimComplete(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key := strconv.Itoa(i)
		claimAndComplete(b, s, ctx, key, now)
	}
}

func claimAndComplete(b *testing.B, s idempotency.Store, ctx context.Context, key string, now time.Time) {
	res, err := s.Claim(ctx, idempotency.ClaimRequest{Scope: "bench", Key: key, Token: key, Now: now,
		Lease: time.Minute, Retention: time.Hour})
	if err != nil || !res.Claimed {
		b.Fatalf("Claim: %v %v", res.Claimed, err)
	}
	if err := s.Complete(ctx, "bench", key, key, now, benchResp, time.Hour); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkClaimCompleteParallel: the same from 64 goroutines per CPU, as
// concurrent requests would; writes queued behind a commit share the next
// one (group commit).
func BenchmarkClaimCompleteParallel(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	now := time.Now()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			claimAndComplete(b, s, ctx, strconv.FormatInt(n.Add(1), 10), now)
		}
	})
}

// BenchmarkReplay: reading a completed record back (Get), per op.
func BenchmarkReplay(b *testing.B) {
	s, now := replayStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, "bench", "k", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplayParallel: Get from many goroutines (read transactions run
// side by side).
func BenchmarkReplayParallel(b *testing.B) {
	s, now := replayStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, "bench", "k", now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimExisting: a repeat request's claim that finds the completed
// record (what the middleware does before a replay): a read transaction only.
func BenchmarkClaimExisting(b *testing.B) {
	s, now := replayStore(b)
	ctx := context.Background()
	req := idempotency.ClaimRequest{Scope: "bench", Key: "k", Token: "other", Now: now, Lease: time.Minute, Retention: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Claim(ctx, req)
		if err != nil || res.Claimed {
			b.Fatalf("Claim of a completed key: %v %v", res.Claimed, err)
		}
	}
}

func replayStore(b *testing.B) (idempotency.Store, time.Time) {
	s := open(b)
	now := time.Now()
	claimAndComplete(b, s, context.Background(), "k", now)
	return s, now
}
