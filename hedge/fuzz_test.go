package hedge

import (
	"slices"
	"testing"
	"time"
)

// FuzzConfig checks that every Config Validate accepts builds a Policy whose
// delay respects its bounds.
func FuzzConfig(f *testing.F) {
	f.Add(int64(time.Second), 0.95, 100, 10, int64(time.Millisecond), 1)
	f.Add(int64(0), 0.0, 0, 0, int64(0), 0)
	f.Add(int64(-1), 1.5, -1, 200, int64(-5), 17)
	f.Fuzz(func(t *testing.T, delay int64, q float64, window, minSamples int, minDelay int64, maxHedges int) {
		cfg := Config{Delay: time.Duration(delay), Percentile: q, Window: window % 5000, MinSamples: minSamples,
			MinDelay: time.Duration(minDelay), MaxHedges: maxHedges, DisableBudget: true}
		p, err := New(cfg)
		if err != nil {
			return
		}
		c := cfg.withDefaults()
		if p.maxHedges < 1 || p.maxHedges > MaxHedges {
			t.Fatalf("%+v: maxHedges %d", cfg, p.maxHedges)
		}
		if got := p.Delay(); got != c.Delay {
			t.Fatalf("%+v: delay before samples %v, want %v", cfg, got, c.Delay)
		}
		if p.window == nil {
			return
		}
		for i := range c.Window + 3 {
			p.window.add(time.Duration(i))
		}
		if got := p.Delay(); got < c.MinDelay {
			t.Fatalf("%+v: delay %v below MinDelay %v", cfg, got, c.MinDelay)
		}
	})
}

// FuzzWindow checks the window's percentile against a sort of its samples.
func FuzzWindow(f *testing.F) {
	f.Add([]byte{1, 5, 3, 9, 9, 0}, uint8(3), 0.5)
	f.Fuzz(func(t *testing.T, data []byte, size uint8, q float64) {
		if size == 0 || q <= 0 || q > 1 {
			return
		}
		w := newWindow(int(size))
		var all []time.Duration
		for _, b := range data {
			w.add(time.Duration(b))
			all = append(all, time.Duration(b))
		}
		got, n := w.percentile(q)
		last := slices.Clone(all[max(0, len(all)-int(size)):])
		if n != len(last) {
			t.Fatalf("n: got %d, want %d", n, len(last))
		}
		if n == 0 {
			return
		}
		slices.Sort(last)
		if !slices.Contains(last, got) || got < last[0] || got > last[n-1] {
			t.Fatalf("q %v of %v: got %v", q, last, got)
		}
	})
}
