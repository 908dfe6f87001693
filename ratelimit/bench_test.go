package ratelimit_test

import (
	"context"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/ratelimit"
)

func BenchmarkAllow(b *testing.B) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1e8, Burst: 1 << 30})
	b.ReportAllocs()
	for b.Loop() {
		l.Allow()
	}
}

// AllowAt leaves out the clock: on machines without a fast clock, time.Now
// dominates Allow.
func BenchmarkAllowAt(b *testing.B) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1e8, Burst: 1 << 30})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.AllowAt(now)
	}
}

func BenchmarkKeyedAllowKeyAt(b *testing.B) {
	k := ratelimit.MustNewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: 1e8, Burst: 1 << 30}})
	ks := keys(1000)
	now := time.Now()
	for _, key := range ks {
		k.AllowKeyAt(key, now)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.AllowKeyAt(ks[i%len(ks)], now)
		i++
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1e8, Burst: 1 << 30})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}

func BenchmarkDo(b *testing.B) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: math.Inf(1)})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Do(ctx, op)
	}
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "client-" + strconv.Itoa(i)
	}
	return ks
}

func BenchmarkKeyedAllowExisting(b *testing.B) {
	k := ratelimit.MustNewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: 1e8, Burst: 1 << 30}})
	ks := keys(1000)
	for _, key := range ks {
		k.AllowKey(key)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.AllowKey(ks[i%len(ks)])
		i++
	}
}

func BenchmarkKeyedAllowExistingParallel(b *testing.B) {
	k := ratelimit.MustNewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: 1e8, Burst: 1 << 30}})
	ks := keys(1000)
	for _, key := range ks {
		k.AllowKey(key)
	}
	var seed atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			k.AllowKey(ks[i%len(ks)])
			i++
		}
	})
}

// New keys at capacity: every call evicts a bucket.
func BenchmarkKeyedAllowNewKeyAtCapacity(b *testing.B) {
	k := ratelimit.MustNewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: 1, Burst: 1}, MaxKeys: 1000})
	ks := keys(100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.AllowKey(ks[i%len(ks)])
		i++
	}
}
