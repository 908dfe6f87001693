package bench

import (
	"context"
	"errors"
	"testing"
)

// A contender is one implementation of one benchmarked path. Its name becomes
// the "impl=" part of the sub-benchmark name, so that bench/run.sh can pivot
// the results into a path × impl table.
type contender struct {
	name string
	run  func(b *testing.B)
}

// The paths. Each benchmark function below runs every contender registered for
// its path. Contenders live in contenders_test.go; Keel's own entries live in
// keel_test.go and are prepended by its init function.
var (
	closedBreaker   []contender // breaker closed, operation succeeds
	openBreaker     []contender // breaker open, call rejected
	parallelBreaker []contender // breaker closed, operation succeeds, b.RunParallel
	retrySuccess    []contender // retry policy, first attempt succeeds
	bulkheadPermit  []contender // bulkhead acquire + release, uncontended
	chainSuccess    []contender // retry(breaker(bulkhead(timeout(op)))), op succeeds
)

func BenchmarkClosedBreaker(b *testing.B)   { runAll(b, closedBreaker) }
func BenchmarkOpenBreaker(b *testing.B)     { runAll(b, openBreaker) }
func BenchmarkParallelBreaker(b *testing.B) { runAll(b, parallelBreaker) }
func BenchmarkRetrySuccess(b *testing.B)    { runAll(b, retrySuccess) }
func BenchmarkBulkhead(b *testing.B)        { runAll(b, bulkheadPermit) }
func BenchmarkChain(b *testing.B)           { runAll(b, chainSuccess) }

func runAll(b *testing.B, cs []contender) {
	if len(cs) == 0 {
		b.Skip("no contenders registered")
	}
	for _, c := range cs {
		b.Run("impl="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			c.run(b)
		})
	}
}

// errBoom is the failure used to trip breakers.
var errBoom = errors.New("bench: boom")

// ok is the guarded operation of every success path: it does nothing, so the
// benchmarks measure the policies alone. It is a package-level function, not a
// closure, so passing it allocates nothing.
func ok(context.Context) error { return nil }

// okNoCtx is ok for libraries whose operations take no context.
func okNoCtx() error { return nil }

// mustSucceed fails the benchmark when a success path returned an error: a
// contender that rejects or fails would otherwise look fast.
func mustSucceed(b *testing.B, err error) {
	if err != nil {
		b.Fatalf("got error %v, want nil", err)
	}
}

// mustReject fails the benchmark unless err is the contender's rejection error.
func mustReject(b *testing.B, err, want error) {
	if !errors.Is(err, want) {
		b.Fatalf("got error %v, want %v", err, want)
	}
}
