package backoff_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keelhq/keel/backoff"
)

var sinkDelay time.Duration

func BenchmarkDelay(b *testing.B) {
	for _, j := range []backoff.Jitter{backoff.JitterNone, backoff.JitterFull, backoff.JitterEqual, backoff.JitterDecorrelated} {
		b.Run(j.String(), func(b *testing.B) {
			s := backoff.Default()
			s = backoff.MustNew(backoff.Config{Initial: s.Config().Initial, Jitter: j})
			var prev time.Duration
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				prev = s.Delay(n&7, prev, nil)
				n++
			}
			sinkDelay = prev
		})
	}
	b.Run("full/seeded", func(b *testing.B) {
		s := backoff.Default()
		r := rand.New(rand.NewPCG(1, 1))
		var prev time.Duration
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			prev = s.Delay(n&7, prev, r)
			n++
		}
		sinkDelay = prev
	})
	b.Run("multiplier1.5", func(b *testing.B) {
		s := backoff.MustNew(backoff.Config{Multiplier: 1.5})
		var prev time.Duration
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			prev = s.Delay(n&7, prev, nil)
			n++
		}
		sinkDelay = prev
	})
}
