package hedge

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDo measures a call whose first attempt wins before the delay: the
// cost of hedging readiness (a goroutine, a timer, a cancelable context).
func BenchmarkDo(b *testing.B) {
	p := MustNew(Config{Delay: time.Second})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, op)
	}
}

func BenchmarkDoPercentile(b *testing.B) {
	p := MustNew(Config{Delay: time.Second, Percentile: 0.95})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, op)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	p := MustNew(Config{Delay: time.Second, Percentile: 0.95})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = p.Do(ctx, op)
		}
	})
}

func BenchmarkWindowAdd(b *testing.B) {
	w := newWindow(DefaultWindow)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.add(time.Duration(i * 7919 % 1000))
		i++
	}
}
