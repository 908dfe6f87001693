package upstream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealthThresholdsAndJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu      sync.Mutex
			failing = true
			times   []time.Time
			log     []string // "check N" and events, in order
		)
		check := func(ctx context.Context, addr string) error {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Now())
			if failing {
				log = append(log, "fail")
				return errors.New("down")
			}
			log = append(log, "pass")
			return nil
		}
		cfg := Config{
			Name:        "api",
			Targets:     []string{"10.0.0.1:80"},
			HealthCheck: &HealthCheck{Interval: time.Second, Jitter: 0.1},
			Outlier:     Outlier{Disabled: true},
			Seed:        3,
			OnEvent: func(e Event) {
				mu.Lock()
				log = append(log, e.Kind.String())
				mu.Unlock()
			},
			check: check,
		}
		start := time.Now()
		p := MustNew(cfg)
		time.Sleep(4500 * time.Millisecond)
		synctest.Wait()
		mu.Lock()
		failing = false
		mu.Unlock()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		fails := 0
		for _, l := range log {
			if l == "fail" {
				fails++
			}
		}
		want := []string{"added", "fail", "fail", "fail", "unhealthy"}
		for range fails - 3 {
			want = append(want, "fail")
		}
		want = append(want, "pass", "pass", "healthy")
		for len(want) < len(log) {
			want = append(want, "pass")
		}
		if diff := cmp.Diff(want, log); diff != "" || fails < 4 {
			t.Errorf("checks and events (-want +got):\n%s", diff)
		}
		if first := times[0].Sub(start); first < 0 || first >= 100*time.Millisecond {
			t.Errorf("first check after %v, want within [0, 100ms)", first)
		}
		for i := 1; i < len(times); i++ {
			if d := times[i].Sub(times[i-1]); d < 900*time.Millisecond || d >= 1100*time.Millisecond {
				t.Errorf("check %d came %v after the previous one, want in [900ms, 1.1s)", i, d)
			}
		}
	})
}

func TestUnhealthyHostGetsNoTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := map[string]bool{"10.0.0.1:80": true}
		var mu sync.Mutex
		p := MustNew(Config{
			Targets:     []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"},
			HealthCheck: &HealthCheck{Interval: time.Second},
			check: func(_ context.Context, addr string) error {
				mu.Lock()
				defer mu.Unlock()
				if down[addr] {
					return errors.New("down")
				}
				return nil
			},
		})
		defer func() { _ = p.Close(context.Background()) }()
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		hs := p.hosts.Load().hosts
		for range 100 {
			if i, _ := p.pk.pick(hs, p.nanos(), nil, nil); i == 0 {
				t.Fatal("picked the unhealthy host")
			}
		}
		if st := p.Status(); st.Hosts[0].Healthy || !st.Hosts[1].Healthy || st.Panic {
			t.Errorf("Status %+v: want host 0 unhealthy, the rest healthy, no panic", st)
		}
	})
}
