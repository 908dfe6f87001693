package bench

import (
	"context"
	"errors"
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/timeout"
)

// Keel's entries come first in every path, so the table lists them first and
// ratios are taken against them.
func init() {
	closedBreaker = append([]contender{{"keel", benchKeelClosedBreaker}}, closedBreaker...)
	openBreaker = append([]contender{{"keel", benchKeelOpenBreaker}}, openBreaker...)
	parallelBreaker = append([]contender{{"keel", benchKeelBreakerParallel}}, parallelBreaker...)
	retrySuccess = append([]contender{{"keel", benchKeelRetry}}, retrySuccess...)
	bulkheadPermit = append([]contender{{"keel", benchKeelBulkhead}}, bulkheadPermit...)
	chainSuccess = append([]contender{{"keel", benchKeelChain}}, chainSuccess...)
}

func benchKeelClosedBreaker(b *testing.B) {
	br := breaker.MustNew(breaker.Config{})
	ctx := context.Background()
	for b.Loop() {
		mustSucceed(b, br.Do(ctx, ok))
	}
}

func benchKeelOpenBreaker(b *testing.B) {
	br := breaker.MustNew(breaker.Config{})
	br.ForceOpen()
	ctx := context.Background()
	if err := br.Do(ctx, ok); !errors.Is(err, keel.ErrRejected) {
		b.Fatalf("got error %v, want one matching keel.ErrRejected", err)
	}
	for b.Loop() {
		mustReject(b, br.Do(ctx, ok), breaker.ErrOpen)
	}
}

func benchKeelBreakerParallel(b *testing.B) {
	br := breaker.MustNew(breaker.Config{})
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := br.Do(ctx, ok); err != nil {
				b.Errorf("got error %v, want nil", err)
				return
			}
		}
	})
}

func benchKeelRetry(b *testing.B) {
	rt := retry.MustNew(retry.Config{MaxAttempts: maxAttempts})
	ctx := context.Background()
	for b.Loop() {
		mustSucceed(b, rt.Do(ctx, ok))
	}
}

func benchKeelBulkhead(b *testing.B) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: maxConcurrent})
	ctx := context.Background()
	for b.Loop() {
		p, err := bh.Acquire(ctx)
		mustSucceed(b, err)
		p.Release()
	}
}

func benchKeelChain(b *testing.B) {
	p := keel.Chain(
		retry.MustNew(retry.Config{MaxAttempts: maxAttempts}),
		breaker.MustNew(breaker.Config{}),
		bulkhead.MustNew(bulkhead.Config{MaxConcurrent: maxConcurrent}),
		timeout.MustNew(timeout.Config{Timeout: callTimeout}),
	)
	ctx := context.Background()
	for b.Loop() {
		mustSucceed(b, p.Do(ctx, ok))
	}
}
