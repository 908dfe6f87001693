package limit_test

import (
	"context"
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/limit"
)

var algs = []struct {
	name string
	new  func() limit.Algorithm
}{
	{"aimd", func() limit.Algorithm { return &limit.AIMD{} }},
	{"vegas", func() limit.Algorithm { return &limit.Vegas{} }},
	{"gradient2", func() limit.Algorithm { return &limit.Gradient2{} }},
}

func BenchmarkAcquireDone(b *testing.B) {
	ctx := context.Background()
	for _, a := range algs {
		b.Run(a.name, func(b *testing.B) {
			l := limit.MustNew(limit.Config{Algorithm: a.new(), MinLimit: 1000, MaxLimit: 1000, InitialLimit: 1000})
			b.ReportAllocs()
			for b.Loop() {
				p, err := l.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				p.Done(keel.OutcomeSuccess)
			}
		})
		b.Run(a.name+"/parallel", func(b *testing.B) {
			l := limit.MustNew(limit.Config{Algorithm: a.new(), MinLimit: 1000, MaxLimit: 1000, InitialLimit: 1000})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, err := l.Acquire(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					p.Done(keel.OutcomeSuccess)
				}
			})
		})
	}
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	l := limit.MustNew(limit.Config{MinLimit: 1000, MaxLimit: 1000, InitialLimit: 1000})
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Do(ctx, op)
	}
}

func BenchmarkThrottlerDo(b *testing.B) {
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	th := limit.MustNewThrottler(limit.ThrottlerConfig{})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = th.Do(ctx, op)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = th.Do(ctx, op)
			}
		})
	})
}
