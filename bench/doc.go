// Package bench compares Keel's policies with other Go resilience libraries.
//
// It is a separate module, so the main module never depends on the libraries
// it is compared with. The benchmarks live in the package's test files: one
// Benchmark function per path (closed breaker, open breaker, retry success,
// bulkhead permit, full chain, breaker under RunParallel), one sub-benchmark
// per implementation, named "impl=NAME". Run them all with
//
//	make bench          # or: bench/run.sh
//
// which runs one go test process and prints a markdown table of medians.
package bench
