package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	retrygo "github.com/avast/retry-go/v5"
	"github.com/cenkalti/backoff/v5"
	ebreaker "github.com/eapache/go-resiliency/breaker"
	"github.com/eapache/go-resiliency/retrier"
	"github.com/eapache/go-resiliency/semaphore"
	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	fstimeout "github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"
)

// Settings shared by every contender, so that each does comparable work.
const (
	maxAttempts   = 3 // retry: attempts in all, the first included
	baseDelay     = 100 * time.Millisecond
	maxDelay      = 10 * time.Second
	maxConcurrent = 10              // bulkhead permits
	callTimeout   = 2 * time.Second // per-attempt timeout
	openDuration  = time.Hour       // long enough that an open breaker stays open for the whole run
	tripAfter     = 5               // consecutive failures that open a breaker
)

func init() {
	closedBreaker = append(closedBreaker,
		contender{"bare", benchBareCall},
		contender{"failsafe", benchFailsafeClosedBreaker},
		contender{"gobreaker", benchGobreakerClosed},
		contender{"eapache", benchEapacheClosed},
	)
	openBreaker = append(openBreaker,
		contender{"failsafe", benchFailsafeOpenBreaker},
		contender{"gobreaker", benchGobreakerOpen},
		contender{"eapache", benchEapacheOpen},
	)
	parallelBreaker = append(parallelBreaker,
		contender{"bare", benchBareCallParallel},
		contender{"failsafe", benchFailsafeBreakerParallel},
		contender{"gobreaker", benchGobreakerParallel},
		contender{"eapache", benchEapacheParallel},
	)
	retrySuccess = append(retrySuccess,
		contender{"bare", benchBareCall},
		contender{"failsafe", benchFailsafeRetry},
		contender{"cenkalti", benchCenkaltiRetry},
		contender{"eapache", benchEapacheRetry},
		contender{"retrygo", benchRetryGo},
	)
	bulkheadPermit = append(bulkheadPermit,
		contender{"chan", benchChanSemaphore},
		contender{"failsafe", benchFailsafeBulkhead},
		contender{"eapache", benchEapacheSemaphore},
	)
	chainSuccess = append(chainSuccess,
		contender{"bare", benchBareCall},
		contender{"failsafe", benchFailsafeChain},
		contender{"handrolled", benchHandRolledChain},
	)
}

// --- bare call: the floor every policy is measured against ---

// bareOp is a variable so the compiler cannot inline the call away.
var bareOp = ok

func benchBareCall(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		mustSucceed(b, bareOp(ctx))
	}
}

func benchBareCallParallel(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := bareOp(ctx); err != nil {
				b.Errorf("got error %v, want nil", err)
				return
			}
		}
	})
}

// --- circuit breakers ---

func newFailsafeBreaker() circuitbreaker.CircuitBreaker[any] {
	return circuitbreaker.NewBuilder[any]().
		WithFailureThreshold(tripAfter).
		WithDelay(openDuration).
		Build()
}

// runFailsafe runs ok through exec, passing the execution's context as
// failsafe-go users do. The function literal captures nothing, so it does not
// allocate.
func runFailsafe(exec failsafe.Executor[any]) error {
	return exec.RunWithExecution(func(e failsafe.Execution[any]) error { return ok(e.Context()) })
}

func benchFailsafeClosedBreaker(b *testing.B) {
	exec := failsafe.With[any](newFailsafeBreaker())
	for b.Loop() {
		mustSucceed(b, runFailsafe(exec))
	}
}

func benchFailsafeOpenBreaker(b *testing.B) {
	cb := newFailsafeBreaker()
	cb.Open()
	exec := failsafe.With[any](cb)
	for b.Loop() {
		mustReject(b, runFailsafe(exec), circuitbreaker.ErrOpen)
	}
}

func benchFailsafeBreakerParallel(b *testing.B) {
	exec := failsafe.With[any](newFailsafeBreaker())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := runFailsafe(exec); err != nil {
				b.Errorf("got error %v, want nil", err)
				return
			}
		}
	})
}

func newGobreaker() *gobreaker.CircuitBreaker[struct{}] {
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:    "bench",
		Timeout: openDuration,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= tripAfter
		},
	})
}

// gobreakerOK is the operation in gobreaker's shape.
func gobreakerOK() (struct{}, error) { return struct{}{}, okNoCtx() }

func gobreakerFail() (struct{}, error) { return struct{}{}, errBoom }

func benchGobreakerClosed(b *testing.B) {
	cb := newGobreaker()
	for b.Loop() {
		_, err := cb.Execute(gobreakerOK)
		mustSucceed(b, err)
	}
}

func benchGobreakerOpen(b *testing.B) {
	cb := newGobreaker()
	for range tripAfter {
		_, _ = cb.Execute(gobreakerFail)
	}
	if got := cb.State(); got != gobreaker.StateOpen {
		b.Fatalf("got state %v, want open", got)
	}
	for b.Loop() {
		_, err := cb.Execute(gobreakerOK)
		mustReject(b, err, gobreaker.ErrOpenState)
	}
}

func benchGobreakerParallel(b *testing.B) {
	cb := newGobreaker()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cb.Execute(gobreakerOK); err != nil {
				b.Errorf("got error %v, want nil", err)
				return
			}
		}
	})
}

func benchEapacheClosed(b *testing.B) {
	cb := ebreaker.New(tripAfter, 1, openDuration)
	for b.Loop() {
		mustSucceed(b, cb.Run(okNoCtx))
	}
}

func benchEapacheOpen(b *testing.B) {
	cb := ebreaker.New(tripAfter, 1, openDuration)
	for range tripAfter {
		_ = cb.Run(func() error { return errBoom })
	}
	for b.Loop() {
		mustReject(b, cb.Run(okNoCtx), ebreaker.ErrBreakerOpen)
	}
}

func benchEapacheParallel(b *testing.B) {
	cb := ebreaker.New(tripAfter, 1, openDuration)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := cb.Run(okNoCtx); err != nil {
				b.Errorf("got error %v, want nil", err)
				return
			}
		}
	})
}

// --- retry, first attempt succeeds ---

func benchFailsafeRetry(b *testing.B) {
	rp := retrypolicy.NewBuilder[any]().
		WithMaxAttempts(maxAttempts).
		WithBackoff(baseDelay, maxDelay).
		Build()
	exec := failsafe.With[any](rp)
	for b.Loop() {
		mustSucceed(b, runFailsafe(exec))
	}
}

// cenkaltiOK is the operation in cenkalti/backoff's shape.
func cenkaltiOK() (struct{}, error) { return struct{}{}, okNoCtx() }

func benchCenkaltiRetry(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		// backoff.Retry resets the BackOff it is given, so a BackOff cannot be
		// shared between concurrent calls; the default (a new exponential
		// back-off per call) is the safe, documented use.
		_, err := backoff.Retry(ctx, cenkaltiOK, backoff.WithMaxTries(maxAttempts))
		mustSucceed(b, err)
	}
}

func benchEapacheRetry(b *testing.B) {
	r := retrier.New(retrier.ExponentialBackoff(maxAttempts-1, baseDelay), nil)
	ctx := context.Background()
	for b.Loop() {
		mustSucceed(b, r.RunCtx(ctx, ok))
	}
}

func benchRetryGo(b *testing.B) {
	r := retrygo.New(
		retrygo.Attempts(maxAttempts),
		retrygo.Delay(baseDelay),
		retrygo.MaxDelay(maxDelay),
		retrygo.Context(context.Background()),
	)
	for b.Loop() {
		mustSucceed(b, r.Do(okNoCtx))
	}
}

// --- bulkhead acquire + release, uncontended ---

// benchChanSemaphore is the hand-written baseline: a buffered channel.
func benchChanSemaphore(b *testing.B) {
	sem := make(chan struct{}, maxConcurrent)
	for b.Loop() {
		select {
		case sem <- struct{}{}:
		default:
			b.Fatal("got a full channel, want a free slot")
		}
		<-sem
	}
}

func benchFailsafeBulkhead(b *testing.B) {
	bh := fsbulkhead.New[any](maxConcurrent)
	ctx := context.Background()
	for b.Loop() {
		mustSucceed(b, bh.AcquirePermit(ctx))
		bh.ReleasePermit()
	}
}

func benchEapacheSemaphore(b *testing.B) {
	sem := semaphore.New(maxConcurrent, time.Second)
	for b.Loop() {
		mustSucceed(b, sem.Acquire())
		sem.Release()
	}
}

// --- retry(breaker(bulkhead(timeout(op)))) ---

func benchFailsafeChain(b *testing.B) {
	rp := retrypolicy.NewBuilder[any]().
		WithMaxAttempts(maxAttempts).
		WithBackoff(baseDelay, maxDelay).
		Build()
	exec := failsafe.With[any](rp, newFailsafeBreaker(), fsbulkhead.New[any](maxConcurrent), fstimeout.New[any](callTimeout))
	for b.Loop() {
		mustSucceed(b, runFailsafe(exec))
	}
}

var errSemFull = errors.New("bench: semaphore full")

// handRolled is the chain a Go programmer writes by hand from the popular
// single-purpose libraries: cenkalti/backoff for retries, sony/gobreaker for
// the breaker, a channel for the bulkhead and context.WithTimeout per attempt.
type handRolled struct {
	cb  *gobreaker.CircuitBreaker[struct{}]
	sem chan struct{}
}

func (h *handRolled) do(ctx context.Context, op func(context.Context) error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		return h.cb.Execute(func() (struct{}, error) {
			select {
			case h.sem <- struct{}{}:
			default:
				return struct{}{}, errSemFull
			}
			defer func() { <-h.sem }()
			actx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			return struct{}{}, op(actx)
		})
	}, backoff.WithMaxTries(maxAttempts))
	return err
}

func benchHandRolledChain(b *testing.B) {
	h := &handRolled{cb: newGobreaker(), sem: make(chan struct{}, maxConcurrent)}
	ctx := context.Background()
	for b.Loop() {
		mustSucceed(b, h.do(ctx, ok))
	}
}
