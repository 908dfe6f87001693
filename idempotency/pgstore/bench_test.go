package pgstore_test

import (
	"context"
	"testing"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
)

// BenchmarkStore: claim + complete (two statements) and replay (one SELECT,
// or one INSERT … ON CONFLICT for a claim that finds the record).
func BenchmarkStore(b *testing.B) {
	idempotencytest.Benchmark(b, func(b *testing.B) idempotency.Store {
		s := newStore(b, newPool(b, nil))
		if err := s.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		return s
	})
}
