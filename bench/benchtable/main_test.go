package main

import (
	"strings"
	"testing"
)

const input = `goos: linux
goarch: amd64
pkg: github.com/keelhq/keel/bench
BenchmarkClosedBreaker/impl=keel-2         	 1000000	        20.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedBreaker/impl=gobreaker-2    	 1000000	       120.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedBreaker/impl=keel-2         	 1000000	        30.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedBreaker/impl=gobreaker-2    	 1000000	       100.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedBreaker/impl=keel-2         	 1000000	        25.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedBreaker/impl=gobreaker-2    	 1000000	       500.0 ns/op	       8 B/op	       1 allocs/op
BenchmarkRetrySuccess/impl=cenkalti-2      	 1000000	       169.1 ns/op	     120 B/op	       3 allocs/op
BenchmarkRetrySuccess/impl=my-impl         	 1000000	       200 ns/op
BenchmarkNoImpl-2                          	 1000000	       200 ns/op
--- FAIL: something
PASS
ok  	github.com/keelhq/keel/bench	0.031s
`

func TestWrite(t *testing.T) {
	rows, err := parse(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	if err := write(&got, rows, "keel"); err != nil {
		t.Fatal(err)
	}
	want := `| path | impl | ns/op | ns/op range | B/op | allocs/op | × keel | runs |
|---|---|---:|---:|---:|---:|---:|---:|
| ClosedBreaker | keel | 25.0 | 20.0–30.0 | 0 | 0 | 1.00 | 3 |
| ClosedBreaker | gobreaker | 120 | 100–500 | 0 | 0 | 4.80 | 3 |
| RetrySuccess | cenkalti | 169 | 169–169 | 120 | 3 | pending | 1 |
| RetrySuccess | my-impl | 200 | 200–200 | - | - | pending | 1 |
`
	if got.String() != want {
		t.Errorf("got table\n%s\nwant\n%s", got.String(), want)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
