// Command benchtable reads `go test -bench` output on standard input and
// prints a markdown table of the median ns/op, B/op and allocs/op of each
// path and implementation, with each implementation's time as a multiple of
// Keel's.
//
// Benchmarks must be named BenchmarkPATH/impl=NAME (a -N GOMAXPROCS suffix is
// ignored). Run with -count greater than one to get medians over several runs.
//
// Usage:
//
//	go test -run='^$' -bench=. -benchmem -count=5 . | go run ./benchtable
//
// The flag -base names the implementation ratios are taken against (default
// "keel"); a path without a row for it shows "pending" in the ratio column.
package main
