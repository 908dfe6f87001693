package dashboard

import (
	"testing"
	"time"
)

// FuzzConfig checks that a Config that validates gives sane values after
// its defaults, and that New agrees with Validate.
func FuzzConfig(f *testing.F) {
	f.Add(int64(0), int64(0), 0, "")
	f.Add(int64(time.Second), int64(5*time.Minute), 16, "Keel")
	f.Add(int64(100*time.Millisecond), int64(100*time.Millisecond), 1, "x")
	f.Add(int64(-1), int64(time.Hour+1), -1, "")
	f.Fuzz(func(t *testing.T, interval, history int64, streams int, title string) {
		cfg := Config{Interval: time.Duration(interval), History: time.Duration(history), MaxStreams: streams, Title: title}
		err := cfg.Validate()
		d, nerr := New(newFakeSource(), cfg)
		if (err == nil) != (nerr == nil) {
			t.Fatalf("Validate: %v, New: %v", err, nerr)
		}
		if err != nil {
			return
		}
		c := d.cfg
		if c.Interval < 100*time.Millisecond || c.History < c.Interval || c.History > time.Hour || c.MaxStreams < 1 || c.Title == "" {
			t.Fatalf("config %+v validated as %+v", cfg, c)
		}
	})
}
