package fallback_test

import (
	"context"
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/fallback"
)

func BenchmarkDoSuccess(b *testing.B) {
	p := fallback.MustNew(fallback.Config{Func: recoverAll})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, op)
	}
}

func BenchmarkDoRecovered(b *testing.B) {
	p := fallback.MustNew(fallback.Config{Func: recoverAll})
	ctx := context.Background()
	op := func(context.Context) error { return errDown }
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, op)
	}
}

func BenchmarkDoSuccessParallel(b *testing.B) {
	p := keel.Chain(fallback.MustNew(fallback.Config{Func: recoverAll}))
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = p.Do(ctx, op)
		}
	})
}

func BenchmarkTypedGet(b *testing.B) {
	f := fallback.MustNewTyped(fallback.TypedConfig[int]{Func: fallback.Value(7)})
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	b.Run("nil executor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = f.Get(ctx, nil, op)
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		p := keel.Chain()
		b.ReportAllocs()
		for b.Loop() {
			_, _ = f.Get(ctx, p, op)
		}
	})
}
