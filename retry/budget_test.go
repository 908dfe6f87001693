package retry_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/retry"
)

func TestBudgetConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  retry.BudgetConfig
		want string
	}{
		{retry.BudgetConfig{}, ""},
		{retry.BudgetConfig{Ratio: -1, MinPerSecond: -1}, ""},
		{retry.BudgetConfig{Ratio: math.NaN()}, "retry: BudgetConfig.Ratio is not finite (NaN)"},
		{retry.BudgetConfig{Ratio: math.Inf(1)}, "retry: BudgetConfig.Ratio is not finite (+Inf)"},
		{retry.BudgetConfig{TTL: -time.Second}, "retry: BudgetConfig.TTL is negative (-1s)"},
		{retry.BudgetConfig{TTL: retry.MaxBudgetTTL}, ""},
		{retry.BudgetConfig{TTL: 25 * time.Hour}, "retry: BudgetConfig.TTL 25h0m0s is longer than MaxBudgetTTL (24h0m0s)"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v.Validate() = %q, want %q", tt.cfg, got, tt.want)
		}
		if _, err := retry.NewBudget(tt.cfg); (err != nil) != (tt.want != "") {
			t.Errorf("NewBudget(%+v) error = %v, want error %v", tt.cfg, err, tt.want != "")
		}
	}
}

// withdrawAll withdraws until the budget refuses and returns how many it got.
func withdrawAll(b *retry.Budget, now time.Time) int {
	n := 0
	for b.TryWithdrawAt(now) {
		n++
		if n > 1e6 {
			panic("budget never refuses")
		}
	}
	return n
}

func TestBudgetRatioAndFloor(t *testing.T) {
	tests := []struct {
		name     string
		cfg      retry.BudgetConfig
		deposits int
		want     int
	}{
		{"ratio only", retry.BudgetConfig{Ratio: 0.2, MinPerSecond: -1}, 100, 20},
		{"ratio only, rounds down", retry.BudgetConfig{Ratio: 0.2, MinPerSecond: -1}, 14, 2},
		{"floor only", retry.BudgetConfig{Ratio: -1, MinPerSecond: 3, TTL: 10 * time.Second}, 1000, 30},
		{"defaults", retry.BudgetConfig{}, 1000, 200 + 100},
		{"nothing", retry.BudgetConfig{Ratio: -1, MinPerSecond: -1}, 1000, 0},
		{"ratio above 1", retry.BudgetConfig{Ratio: 2.5, MinPerSecond: -1}, 10, 25},
	}
	for _, tt := range tests {
		b := retry.MustNewBudget(tt.cfg)
		now := time.Now()
		for range tt.deposits {
			b.DepositAt(now)
		}
		if got := b.Available(now); got != tt.want {
			t.Errorf("%s: Available = %d, want %d", tt.name, got, tt.want)
		}
		if got := withdrawAll(b, now); got != tt.want {
			t.Errorf("%s: withdrew %d, want %d", tt.name, got, tt.want)
		}
		if got := b.Available(now); got != 0 {
			t.Errorf("%s: Available after draining = %d, want 0", tt.name, got)
		}
	}
}

func TestBudgetWindowExpires(t *testing.T) {
	b := retry.MustNewBudget(retry.BudgetConfig{Ratio: 0.5, MinPerSecond: 1, TTL: 10 * time.Second})
	t0 := time.Now()
	for range 20 {
		b.DepositAt(t0)
	}
	steps := []struct {
		at   time.Duration
		want int // withdrawals granted at this time
	}{
		{0, 10 + 10},            // 0.5×20 + 1×10s
		{5 * time.Second, 0},    // all used, nothing expired
		{9 * time.Second, 0},    // still inside the window
		{21 * time.Second, 10},  // deposits and withdrawals expired: floor only
		{25 * time.Second, 0},   // floor used up
		{32 * time.Second, 10},  // the retries of 21s expired
		{32 * time.Second, 0},   // and used again
		{100 * time.Second, 10}, // long idle: floor only
	}
	for _, s := range steps {
		if got := withdrawAll(b, t0.Add(s.at)); got != s.want {
			t.Errorf("at %v: withdrew %d, want %d", s.at, got, s.want)
		}
	}
}

// TestBudgetDepositsSampledOverTime checks that deposits spread over time keep
// earning credit while they are inside the window: the sampled clock readings
// let the budget count them.
func TestBudgetDepositsSampledOverTime(t *testing.T) {
	b := retry.MustNewBudget(retry.BudgetConfig{Ratio: 0.1, MinPerSecond: -1, TTL: 10 * time.Second})
	t0 := time.Now()
	// 1000 deposits per second for 30 s.
	for ms := range 30_000 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		b.DepositAt(now)
	}
	end := t0.Add(30 * time.Second)
	got := b.Available(end)
	// The last 10 s held 10,000 deposits; the budget may count a slice less.
	if got > 1000 || got < 850 {
		t.Errorf("Available = %d, want in [850, 1000] (0.1 × ~10,000 deposits of the last 10s)", got)
	}
}

// TestBudgetModel is a property test: under a seeded random mix of deposits
// and withdrawals over a minute, every granted withdrawal keeps the retries of
// the TTL before it, itself included, within Ratio × that TTL's deposits +
// the floor, and the budget grants at least the floor when nothing was
// withdrawn for a TTL.
func TestBudgetModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, seed))
		ttl := time.Duration(1+r.IntN(20)) * time.Second / 2
		cfg := retry.BudgetConfig{Ratio: r.Float64(), TTL: ttl, MinPerSecond: r.IntN(5) - 1}
		if granted := checkBudgetModel(t, cfg, seed, 20_000); granted == 0 {
			t.Errorf("seed %d, %+v: no withdrawal granted in a minute of traffic", seed, cfg)
		}
	}
}

// checkBudgetModel drives a budget with a seeded random mix of deposits and
// withdrawals, with bursts and lulls, and checks every granted withdrawal
// against a model that keeps every event's time. It returns how many
// withdrawals were granted.
func checkBudgetModel(t *testing.T, cfg retry.BudgetConfig, seed uint64, steps int) int {
	t.Helper()
	b, err := retry.NewBudget(cfg)
	if err != nil {
		return 0
	}
	r := rand.New(rand.NewPCG(seed, seed))
	ttl, ratio, perSec := cfg.TTL, cfg.Ratio, cfg.MinPerSecond
	if ttl == 0 {
		ttl = retry.DefaultBudgetTTL
	}
	switch {
	case ratio == 0:
		ratio = retry.DefaultBudgetRatio
	case ratio < 0:
		ratio = 0
	}
	if perSec == 0 {
		perSec = retry.DefaultBudgetMinPerSecond
	}
	reserve := float64(max(perSec, 0)) * ttl.Seconds()
	t0 := time.Now()
	var deposits, withdrawals []time.Duration
	// count returns how many of the sorted xs are in [from, to].
	count := func(xs []time.Duration, from, to time.Duration) int {
		lo := sort.Search(len(xs), func(i int) bool { return xs[i] >= from })
		hi := sort.Search(len(xs), func(i int) bool { return xs[i] > to })
		return hi - lo
	}
	step := max(ttl/2000, 1)
	at := time.Duration(0)
	for range steps {
		at += time.Duration(r.Int64N(int64(step)))
		if r.IntN(500) == 0 { // bursts and lulls, so that stale credit would show
			at += time.Duration(r.Int64N(int64(ttl)))
		}
		if r.IntN(3) > 0 {
			b.DepositAt(t0.Add(at))
			deposits = append(deposits, at)
			continue
		}
		if !b.TryWithdrawAt(t0.Add(at)) {
			continue
		}
		withdrawals = append(withdrawals, at)
		w := count(withdrawals, at-ttl, at)
		d := count(deposits, at-ttl, at)
		if float64(w) > ratio*float64(d)+reserve+1e-9 {
			t.Fatalf("seed %d, %+v, at %v: %d retries in the last TTL > %.3g × %d deposits + %.0f",
				seed, cfg, at, w, ratio, d, reserve)
		}
	}
	if n := b.Available(t0.Add(at)); n < 0 {
		t.Fatalf("Available = %d, want ≥ 0", n)
	}
	return len(withdrawals)
}

// FuzzBudget checks the budget's bound for arbitrary parameters.
func FuzzBudget(f *testing.F) {
	f.Add(0.2, int64(10*time.Second), 10, uint64(1))
	f.Add(0.0, int64(0), 0, uint64(2))
	f.Add(-1.0, int64(1), -1, uint64(3))
	f.Add(1e9, int64(time.Millisecond), 1<<30, uint64(4))
	f.Add(0.001, int64(time.Hour), 1, uint64(5))
	f.Add(0.5, int64(math.MaxInt64), 3, uint64(6))
	f.Add(0.5, int64(retry.MaxBudgetTTL), 3, uint64(7))
	f.Fuzz(func(t *testing.T, ratio float64, ttl int64, perSec int, seed uint64) {
		checkBudgetModel(t, retry.BudgetConfig{Ratio: ratio, TTL: time.Duration(ttl), MinPerSecond: perSec}, seed, 2000)
	})
}

// TestBudgetConcurrent hammers one budget from many goroutines (run it with
// -race): the total granted never exceeds the bound for one window.
func TestBudgetConcurrent(t *testing.T) {
	b := retry.MustNewBudget(retry.BudgetConfig{Ratio: 0.2, MinPerSecond: -1, TTL: time.Hour})
	var granted atomic.Int64
	var wg sync.WaitGroup
	const workers, each = 8, 5000
	for range workers {
		wg.Go(func() {
			for range each {
				b.Deposit()
				if b.TryWithdraw() {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	bound := int64(0.2 * workers * each)
	if got := granted.Load(); got > bound || got < bound*9/10 {
		t.Errorf("granted %d retries, want in [%d, %d]", got, bound*9/10, bound)
	}
}

func TestMustNewBudgetPanics(t *testing.T) {
	defer func() {
		r := recover()
		if err, ok := r.(error); !ok || !strings.Contains(err.Error(), "BudgetConfig.TTL") {
			t.Errorf("recovered %v, want the TTL validation error", r)
		}
	}()
	retry.MustNewBudget(retry.BudgetConfig{TTL: -1})
}
