package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	tests := []struct {
		d    []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.99, 0},
		{ms(5), 0.5, 5 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.99, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.d, tt.q); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.d, tt.q, got, tt.want)
		}
	}
}

func TestPick(t *testing.T) {
	tests := []struct {
		u    float64
		want int
	}{{0, 0}, {0.19, 0}, {0.2, 1}, {0.69, 1}, {0.71, 2}, {0.999, 2}}
	for _, tt := range tests {
		if got := pick(tt.u); got != tt.want {
			t.Errorf("pick(%v) = %d, want %d", tt.u, got, tt.want)
		}
	}
}
