package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func benchBreaker(b *testing.B, cfg Config) *Breaker {
	b.Helper()
	b.ReportAllocs()
	return MustNew(cfg)
}

func okOp(context.Context) error { return nil }

var benchConfigs = []struct {
	name string
	cfg  Config
}{
	{"count", Config{}},
	{"time", Config{WindowType: TimeBased}},
	{"count-slow", Config{SlowCallDuration: time.Second, SlowCallRateThreshold: 50}},
}

// BenchmarkClosedAllowDone measures the two-step API on a closed breaker.
func BenchmarkClosedAllowDone(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			br := benchBreaker(b, bc.cfg)
			for b.Loop() {
				p, err := br.Allow()
				if err != nil {
					b.Fatal(err)
				}
				p.Done(keel.OutcomeSuccess)
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			br := benchBreaker(b, bc.cfg)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, err := br.Allow()
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

// BenchmarkClosedDo measures Do on a closed breaker.
func BenchmarkClosedDo(b *testing.B) {
	ctx := context.Background()
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			br := benchBreaker(b, bc.cfg)
			for b.Loop() {
				if err := br.Do(ctx, okOp); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			br := benchBreaker(b, bc.cfg)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := br.Do(ctx, okOp); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOpenReject measures rejection by an open breaker.
func BenchmarkOpenReject(b *testing.B) {
	open := func(b *testing.B) *Breaker {
		br := benchBreaker(b, Config{OpenDuration: time.Hour, MinimumCalls: 1})
		p, _ := br.Allow()
		p.Done(keel.OutcomeFailure)
		if br.State() != Open {
			b.Fatal("breaker did not open")
		}
		return br
	}
	b.Run("allow", func(b *testing.B) {
		br := open(b)
		for b.Loop() {
			if _, err := br.Allow(); err == nil {
				b.Fatal("allowed")
			}
		}
	})
	b.Run("allow-parallel", func(b *testing.B) {
		br := open(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := br.Allow(); err == nil {
					b.Error("allowed")
					return
				}
			}
		})
	})
	b.Run("do", func(b *testing.B) {
		br := open(b)
		ctx := context.Background()
		for b.Loop() {
			if err := br.Do(ctx, okOp); !errors.Is(err, ErrOpen) {
				b.Fatal(err)
			}
		}
	})
	b.Run("forced", func(b *testing.B) {
		br := benchBreaker(b, Config{})
		br.ForceOpen()
		for b.Loop() {
			if _, err := br.Allow(); err == nil {
				b.Fatal("allowed")
			}
		}
	})
}

// BenchmarkGroupGet measures looking up an existing key.
func BenchmarkGroupGet(b *testing.B) {
	g := MustNewGroup(GroupConfig{})
	keys := []string{"a", "b", "c", "d"}
	for _, k := range keys {
		g.Get(k)
	}
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			g.Get(keys[i&3])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				g.Get(keys[i&3])
				i++
			}
		})
	})
}

var sinkDuration time.Duration

// BenchmarkClockBaseline measures one monotonic clock read (time.Since), the
// floor under every path that needs the time: the time window, slow-call
// detection and open rejection. Compare the other figures with it when the
// machine is noisy.
func BenchmarkClockBaseline(b *testing.B) {
	base := time.Now()
	for b.Loop() {
		sinkDuration += time.Since(base)
	}
}
