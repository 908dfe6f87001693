package limit_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/limit"
)

func never() float64 { return math.Nextafter(1, 0) } // rejects only when p = 1

func TestThrottlerProbability(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		requests, accepts int
		k                 float64
		want              float64
	}{
		{0, 0, 0, 0},
		{100, 50, 0, 0},            // requests = 2·accepts
		{100, 25, 0, 50.0 / 101},   // (100 − 50)/101
		{100, 0, 0, 100.0 / 101},   // backend refuses everything
		{100, 40, 1.5, 40.0 / 101}, // (100 − 60)/101
		{10, 10, 1, 0},
		{10, 4, 1, 6.0 / 11},
	} {
		th := limit.MustNewThrottler(limit.ThrottlerConfig{K: tc.k, Rand: never})
		for range tc.requests {
			th.AllowAt(now)
		}
		for range tc.accepts {
			th.AcceptAt(now)
		}
		if got := th.Probability(now); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("requests %d, accepts %d, K %v: got p = %v, want %v", tc.requests, tc.accepts, tc.k, got, tc.want)
		}
	}
}

func TestThrottlerDecision(t *testing.T) {
	now := time.Unix(0, 0)
	r := 0.0
	th := limit.MustNewThrottler(limit.ThrottlerConfig{Rand: func() float64 { return r }})
	for range 3 {
		th.AllowAt(now) // counted whether allowed or not
	}
	// 3 requests, 0 accepts: p = 3/4.
	r = 0.74
	if ok, p := th.AllowAt(now); ok || p != 0.75 {
		t.Fatalf("rand 0.74, p 0.75: got ok %v p %v, want rejected at 0.75", ok, p)
	}
	// 4 requests now: p = 4/5.
	r = 0.8
	if ok, p := th.AllowAt(now); !ok || p != 0.8 {
		t.Fatalf("rand 0.8, p 0.8: got ok %v p %v, want allowed at 0.8", ok, p)
	}
}

func TestThrottlerSeeded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		acceptP   float64 // chance the backend accepts a request sent
		minReject int     // local rejections in the last 1000 of 2000 calls
		maxReject int
	}{
		{"healthy", 1, 0, 0},
		{"down", 0, 990, 1000},
		// Accepting 3/4: requests ≤ 2·accepts holds with a wide margin.
		{"degraded", 0.75, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := rand.New(rand.NewPCG(42, 42))
			backend := rand.New(rand.NewPCG(7, 7))
			th := limit.MustNewThrottler(limit.ThrottlerConfig{Rand: src.Float64})
			now := time.Unix(0, 0)
			rejected := 0
			for i := range 2000 {
				now = now.Add(10 * ms)
				ok, _ := th.AllowAt(now)
				if ok && backend.Float64() < tc.acceptP {
					th.AcceptAt(now)
				}
				if !ok && i >= 1000 {
					rejected++
				}
			}
			if rejected < tc.minReject || rejected > tc.maxReject {
				t.Fatalf("got %d local rejections in the last 1000 calls, want %d..%d", rejected, tc.minReject, tc.maxReject)
			}
		})
	}
}

func TestThrottlerWindowSlides(t *testing.T) {
	th := limit.MustNewThrottler(limit.ThrottlerConfig{Window: time.Minute, Buckets: 6, Rand: never})
	t0 := time.Unix(600, 0) // a bucket boundary
	for range 10 {
		th.AllowAt(t0)
	}
	for _, tc := range []struct {
		at   time.Duration
		want int64
	}{
		{0, 10},
		{59 * time.Second, 10},
		{60 * time.Second, 0}, // the bucket has left the window
	} {
		if got, _ := th.Counts(t0.Add(tc.at)); got != tc.want {
			t.Errorf("at +%v: got %d requests, want %d", tc.at, got, tc.want)
		}
	}
	if got := th.Probability(t0.Add(time.Minute)); got != 0 {
		t.Errorf("got p = %v after the window passed, want 0", got)
	}
}

func TestThrottlerDo(t *testing.T) {
	rec := &recorder{}
	th := limit.MustNewThrottler(limit.ThrottlerConfig{Name: "up", Rand: func() float64 { return 0 }, Observer: rec})
	ctx := context.Background()
	down := errors.New("down")
	if err := th.Do(ctx, func(context.Context) error { return down }); !errors.Is(err, down) {
		t.Fatalf("got %v, want the op's error", err)
	}
	ran := false
	err := th.Do(ctx, func(context.Context) error { ran = true; return nil })
	if ran || !errors.Is(err, limit.ErrThrottled) || !errors.Is(err, keel.ErrRejected) {
		t.Fatalf("got %v (ran %v), want a local rejection matching ErrThrottled and keel.ErrRejected", err, ran)
	}
	if got, want := err.Error(), `limit "up": throttled (rejection probability 0.500)`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if len(rec.ev) != 1 || rec.ev[0].Kind != keel.EventRejected || rec.ev[0].Reason != keel.ReasonLimit {
		t.Fatalf("got events %+v, want one rejection with ReasonLimit", rec.ev)
	}
}

func TestThrottlerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  limit.ThrottlerConfig
		want string
	}{
		{limit.ThrottlerConfig{}, ""},
		{limit.ThrottlerConfig{K: 0.5}, "limit: ThrottlerConfig.K must be >= 1 and finite (0 means 2), got 0.5"},
		{limit.ThrottlerConfig{K: math.Inf(1)}, "limit: ThrottlerConfig.K must be >= 1 and finite (0 means 2), got +Inf"},
		{limit.ThrottlerConfig{Window: -1}, "limit: ThrottlerConfig.Window must be >= 0 (0 means 2m0s), got -1ns"},
		{limit.ThrottlerConfig{Buckets: -1}, "limit: ThrottlerConfig.Buckets must be >= 0 (0 means 24), got -1"},
		{limit.ThrottlerConfig{Window: 5, Buckets: 10}, "limit: ThrottlerConfig.Window (5ns) must be at least 1ns per bucket (10 buckets)"},
	} {
		got := ""
		if err := tc.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

// TestThrottlerColdStartBurst: requests that Do let through and that have no
// answer yet do not count against the backend, so a burst of concurrent first
// requests is not throttled before any of them could be accepted.
func TestThrottlerColdStartBurst(t *testing.T) {
	th := limit.MustNewThrottler(limit.ThrottlerConfig{Rand: func() float64 { return 0 }})
	const n = 20
	release := make(chan struct{})
	started := make(chan struct{}, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			errs <- th.Do(context.Background(), func(context.Context) error {
				started <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	for range n {
		select {
		case <-started:
		case err := <-errs:
			t.Fatalf("a request of the start-up burst was refused: %v", err)
		}
	}
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Do: %v", err)
		}
	}
	if req, acc := th.Counts(time.Now()); req != n || acc != n {
		t.Errorf("Counts = %d requests, %d accepts; want %d, %d", req, acc, n, n)
	}
}
