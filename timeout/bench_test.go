package timeout

import (
	"context"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/bulkhead"
)

func nop(context.Context) error { return nil }

// BenchmarkCooperative is the success path: the op returns at once.
func BenchmarkCooperative(b *testing.B) {
	p := MustNew(Config{Timeout: time.Second})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, nop)
	}
}

// BenchmarkCooperativeCallerDeadline: the caller's deadline is sooner, so no
// context is made.
func BenchmarkCooperativeCallerDeadline(b *testing.B) {
	p := MustNew(Config{Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, nop)
	}
}

// BenchmarkCooperativeDone: the op waits on ctx.Done (arms the timer).
func BenchmarkCooperativeDone(b *testing.B) {
	p := MustNew(Config{Timeout: time.Second})
	ctx := context.Background()
	op := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		default:
			return nil
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, op)
	}
}

// BenchmarkStdWithTimeout is what the cooperative path replaces.
func BenchmarkStdWithTimeout(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, cancel := context.WithTimeout(ctx, time.Second)
		_ = nop(c)
		cancel()
	}
}

func BenchmarkReturnOnTime(b *testing.B) {
	p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, nop)
	}
}

func BenchmarkCooperativeParallel(b *testing.B) {
	p := MustNew(Config{Timeout: time.Second})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = p.Do(ctx, nop)
		}
	})
}

// BenchmarkBulkheadTimeout is the inner end of a typical chain.
func BenchmarkBulkheadTimeout(b *testing.B) {
	chain := keel.Chain(bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 64}), MustNew(Config{Timeout: time.Second}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = chain.Do(ctx, nop)
	}
}

func BenchmarkBulkheadTimeoutParallel(b *testing.B) {
	chain := keel.Chain(bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1 << 20}), MustNew(Config{Timeout: time.Second}))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = chain.Do(ctx, nop)
		}
	})
}
