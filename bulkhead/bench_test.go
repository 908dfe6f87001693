package bulkhead

import (
	"context"
	"testing"
)

func BenchmarkAcquireRelease(b *testing.B) {
	bh := MustNew(Config{MaxConcurrent: 8})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := bh.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.Release()
	}
}

func BenchmarkDo(b *testing.B) {
	bh := MustNew(Config{MaxConcurrent: 8})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = bh.Do(ctx, op)
	}
}

// BenchmarkAcquireReleaseParallel: permits never run out; measures the
// shared lock under contention.
func BenchmarkAcquireReleaseParallel(b *testing.B) {
	bh := MustNew(Config{MaxConcurrent: 1 << 20})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := bh.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release()
		}
	})
}

// BenchmarkAcquireReleaseParallelQueued: one permit, so goroutines queue and
// permits are handed over.
func BenchmarkAcquireReleaseParallelQueued(b *testing.B) {
	bh := MustNew(Config{MaxConcurrent: 1, MaxQueue: 1 << 20})
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := bh.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release()
		}
	})
}
