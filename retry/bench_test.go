package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/retry"
)

func BenchmarkSuccessFirstTry(b *testing.B) {
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.Run("budget", func(b *testing.B) {
		p := retry.MustNew(retry.Config{})
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Do(ctx, op)
		}
	})
	b.Run("nobudget", func(b *testing.B) {
		p := retry.MustNew(retry.Config{DisableBudget: true})
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Do(ctx, op)
		}
	})
	b.Run("chain", func(b *testing.B) {
		c := keel.Chain(retry.MustNew(retry.Config{}))
		b.ReportAllocs()
		for b.Loop() {
			_ = c.Do(ctx, op)
		}
	})
	b.Run("attempttimeout", func(b *testing.B) {
		p := retry.MustNew(retry.Config{AttemptTimeout: time.Second})
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Do(ctx, op)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		p := retry.MustNew(retry.Config{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = p.Do(ctx, op)
			}
		})
	})
}

func BenchmarkThreeFailingAttempts(b *testing.B) {
	ctx := context.Background()
	fail := errors.New("fail")
	op := func(context.Context) error { return fail }
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0), DisableBudget: true})
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, op)
	}
}

func BenchmarkBudgetDeposit(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		bu := retry.MustNewBudget(retry.BudgetConfig{})
		b.ReportAllocs()
		for b.Loop() {
			bu.Deposit()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bu := retry.MustNewBudget(retry.BudgetConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				bu.Deposit()
			}
		})
	})
}

func BenchmarkBudgetTryWithdraw(b *testing.B) {
	bu := retry.MustNewBudget(retry.BudgetConfig{Ratio: 1})
	b.ReportAllocs()
	for b.Loop() {
		bu.Deposit()
		_ = bu.TryWithdraw()
	}
}
