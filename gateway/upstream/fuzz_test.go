package upstream

import (
	"testing"
	"time"
)

func FuzzConfigValidate(f *testing.F) {
	f.Add("127.0.0.1:80", "http", "peak_ewma", int64(0), 0.5, 0.1, int64(30e9), int64(300e9))
	f.Add("api.svc:8080", "https", "round_robin", int64(-1), 2.0, 1.0, int64(1), int64(0))
	f.Add("[::1]:0", "", "", int64(5), -1.0, -0.5, int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, target, scheme, bal string, timeout int64, pct, jitter float64, base, maxT int64) {
		cfg := Config{
			Targets: []string{target}, Scheme: scheme, Balancer: bal,
			ConnectTimeout: time.Duration(timeout),
			HealthCheck:    &HealthCheck{Jitter: jitter},
			Outlier: Outlier{MaxEjectionPercent: pct, PanicThreshold: pct,
				BaseEjectionTime: time.Duration(base), MaxEjectionTime: time.Duration(maxT)},
		}
		if cfg.Validate() != nil {
			return
		}
		// A valid config yields sane derived values.
		o := cfg.Outlier.withDefaults()
		for n := 1; n < 20; n++ {
			if d := ejectionTime(o.BaseEjectionTime, o.MaxEjectionTime, n); d <= 0 || d > o.MaxEjectionTime {
				t.Fatalf("ejection %d lasts %v with base %v, max %v", n, d, o.BaseEjectionTime, o.MaxEjectionTime)
			}
		}
		hc := cfg.HealthCheck.withDefaults()
		for _, r := range []float64{0, 0.5, 0.999999} {
			if d := jittered(hc.Interval, hc.Jitter, r); d <= 0 {
				t.Fatalf("jittered wait %v with jitter %v", d, hc.Jitter)
			}
		}
		if _, _, err := splitTarget(target); err != nil {
			t.Fatalf("valid config, invalid target %q: %v", target, err)
		}
	})
}
