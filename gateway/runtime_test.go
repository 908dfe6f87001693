package gateway

import (
	"testing"
	"time"

	"github.com/keelhq/keel/gateway/config"
)

func TestFailurePenaltyMapping(t *testing.T) {
	d := func(s string) *config.Duration {
		v, err := config.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	for _, tc := range []struct {
		in   *config.Duration
		want time.Duration
	}{
		{nil, 0},      // absent: the pool's default (1s)
		{d("0s"), -1}, // off
		{d("250ms"), 250 * time.Millisecond},
	} {
		if got := failurePenalty(tc.in); got != tc.want {
			t.Errorf("failurePenalty(%v): got %v, want %v", tc.in, got, tc.want)
		}
	}
}
