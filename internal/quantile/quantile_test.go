package quantile

import (
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"none", nil, 0.99, 0},
		{"one", hundred[:1], 0.5, time.Millisecond},
		{"median of four", hundred[:4], 0.5, 2 * time.Millisecond},
		{"p99 of 100", hundred, 0.99, 99 * time.Millisecond},
		{"p7 of 100, not the 8th", hundred, 0.07, 7 * time.Millisecond},
		{"p100", hundred, 1, 100 * time.Millisecond},
		{"tiny q: the first", hundred, 0.0001, time.Millisecond},
		{"p95 of 100", hundred, 0.95, 95 * time.Millisecond},
		{"p99.5 of 100", hundred, 0.995, 100 * time.Millisecond},
		{"median of two: the lower", hundred[:2], 0.5, time.Millisecond},
		{"p51 of two", hundred[:2], 0.51, 2 * time.Millisecond},
		{"p75 of four", hundred[:4], 0.75, 3 * time.Millisecond},
	} {
		if got := Of(tc.sorted, tc.q); got != tc.want {
			t.Errorf("%s: Of(%d values, %v) = %v, want %v", tc.name, len(tc.sorted), tc.q, got, tc.want)
		}
	}
}

func FuzzOf(f *testing.F) {
	f.Add(10, 0.99)
	f.Add(1, 0.5)
	f.Fuzz(func(t *testing.T, n int, q float64) {
		if n < 0 || n > 1000 || !(q > 0 && q <= 1) {
			return
		}
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i)
		}
		got := Of(s, q)
		if n == 0 {
			if got != 0 {
				t.Fatalf("Of(empty) = %v", got)
			}
			return
		}
		// At least q of the values are at or below got, and fewer are
		// below it.
		atOrBelow := float64(got+1) / float64(n)
		below := float64(got) / float64(n)
		if atOrBelow < q-1e-9 || below >= q+1e-9 && got > 0 {
			t.Fatalf("Of(%d values, %v) = %v", n, q, got)
		}
	})
}
