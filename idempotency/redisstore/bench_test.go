package redisstore_test

import (
	"context"
	"testing"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
)

// BenchmarkStore: claim + complete (two EVALSHAs) and replay (one HGETALL, or
// one EVALSHA for a claim that finds the record).
func BenchmarkStore(b *testing.B) {
	idempotencytest.Benchmark(b, func(b *testing.B) idempotency.Store {
		s := newStore(b, newClient(b))
		if err := s.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
		return s
	})
}
