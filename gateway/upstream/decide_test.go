package upstream

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEjectionTime(t *testing.T) {
	base, maxT := 30*time.Second, 300*time.Second
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 30 * time.Second}, {1, 30 * time.Second}, {2, 60 * time.Second}, {9, 270 * time.Second}, {10, 300 * time.Second}, {11, 300 * time.Second}, {math.MaxInt, 300 * time.Second}} {
		if got := ejectionTime(base, maxT, tc.n); got != tc.want {
			t.Errorf("ejectionTime(30s, 300s, %d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestCanEject(t *testing.T) {
	for _, tc := range []struct {
		ejected, total int
		pct            float64
		want           bool
	}{
		{0, 10, 0.1, true},
		{1, 10, 0.1, false},
		{0, 3, 0.1, true}, // one host may always be ejected
		{1, 3, 0.1, false},
		{1, 4, 0.5, true},
		{2, 4, 0.5, false},
		{2, 5, 0.5, false},
		{1, 5, 0.5, true},
		{4, 5, 1, true},
	} {
		if got := canEject(tc.ejected, tc.total, tc.pct); got != tc.want {
			t.Errorf("canEject(%d, %d, %v) = %v, want %v", tc.ejected, tc.total, tc.pct, got, tc.want)
		}
	}
}

func TestSuccessRateOutliers(t *testing.T) {
	sr := Outlier{SuccessRate: &SuccessRate{}}.withDefaults().SuccessRate
	good := ivStat{requests: 200, failures: 2}
	bad := ivStat{requests: 200, failures: 100}
	few := ivStat{requests: 50, failures: 50}
	for _, tc := range []struct {
		name string
		st   []ivStat
		want []int
	}{
		{"one bad of six", []ivStat{good, good, bad, good, good, good}, []int{2}},
		{"four hosts: below MinHosts", []ivStat{good, good, bad, good}, nil},
		{"too few requests do not count", []ivStat{good, good, few, good, good}, nil},
		{"all equal", []ivStat{good, good, good, good, good}, nil},
	} {
		got := successRateOutliers(tc.st, *sr)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: successRateOutliers (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestLatencyOutliers(t *testing.T) {
	l := *Outlier{Latency: &Latency{}}.withDefaults().Latency
	ms := func(n int, mean time.Duration) ivStat {
		return ivStat{requests: n, responses: n, latency: int64(mean) * int64(n)}
	}
	for _, tc := range []struct {
		name string
		st   []ivStat
		want []int
	}{
		{"10x slower", []ivStat{ms(50, 20*time.Millisecond), ms(50, 200*time.Millisecond), ms(50, 22*time.Millisecond)}, []int{1}},
		{"slow but below Threshold", []ivStat{ms(50, time.Millisecond), ms(50, 40*time.Millisecond), ms(50, time.Millisecond)}, nil},
		{"under Factor", []ivStat{ms(50, 30*time.Millisecond), ms(50, 80*time.Millisecond), ms(50, 30*time.Millisecond)}, nil},
		{"too few responses", []ivStat{ms(50, 20*time.Millisecond), ms(19, time.Second)}, nil},
		{"one host alone", []ivStat{ms(50, time.Second)}, nil},
		{"two hosts", []ivStat{ms(50, 10*time.Millisecond), ms(50, 100*time.Millisecond)}, []int{1}},
	} {
		got := latencyOutliers(tc.st, l)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: latencyOutliers (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestHealthState(t *testing.T) {
	// F = failed check, P = passing check; want is the health after each.
	for _, tc := range []struct {
		seq  string
		want string // H healthy, U unhealthy
	}{
		{"FFF", "HHU"},
		{"FFPFFF", "HHHHHU"},
		{"FFFP", "HHUU"},
		{"FFFPP", "HHUUH"},
		{"FFFPFPP", "HHUUUUH"},
	} {
		var s healthState
		got := ""
		for _, c := range tc.seq {
			s.observe(c == 'P', 2, 3)
			if s.unhealthy {
				got += "U"
			} else {
				got += "H"
			}
		}
		if got != tc.want {
			t.Errorf("checks %s: health %s, want %s", tc.seq, got, tc.want)
		}
	}
}

func TestJitteredBounds(t *testing.T) {
	var r rng
	r.state.Store(1)
	lo, hi := 900*time.Millisecond, 1100*time.Millisecond
	for range 10000 {
		d := jittered(time.Second, 0.1, r.float())
		if d < lo || d >= hi {
			t.Fatalf("jittered(1s, 0.1) = %v, want in [%v, %v)", d, lo, hi)
		}
	}
	if got := jittered(time.Second, 0, 0.99); got != time.Second {
		t.Errorf("jittered(1s, 0) = %v, want 1s", got)
	}
}

// testHosts builds n admitted, healthy hosts.
func testHosts(n int) []*host {
	hs := make([]*host, n)
	for i := range hs {
		hs[i] = newHost("10.0.0."+string(rune('1'+i))+":80", 0, float64(30*time.Millisecond))
	}
	return hs
}

func newPicker(kind uint8, seed uint64) *picker {
	pk := &picker{kind: kind, tau: float64(DefaultEWMADecay), panic: 0.5}
	pk.rand.state.Store(seed)
	return pk
}

func shares(pk *picker, hs []*host, n int, now int64) []int {
	got := make([]int, len(hs))
	for range n {
		i, _ := pk.pick(hs, now, nil, nil)
		if i >= 0 {
			got[i]++
		}
	}
	return got
}

func TestPickSkipsUnavailable(t *testing.T) {
	hs := testHosts(4)
	hs[0].healthy.Store(false)
	hs[1].ejectedAt.Store(int64(time.Minute))
	for _, kind := range []uint8{balPeakEWMA, balLeastRequest, balRoundRobin} {
		got := shares(newPicker(kind, 7), hs, 100, int64(time.Second))
		if got[0] != 0 || got[1] != 0 || got[2]+got[3] != 100 {
			t.Errorf("balancer %d: shares %v, want all on hosts 2 and 3", kind, got)
		}
	}
	// At the end of the ejection, host 1 is back.
	got := shares(newPicker(balRoundRobin, 7), hs, 90, int64(time.Minute))
	if diff := cmp.Diff([]int{0, 30, 30, 30}, got); diff != "" {
		t.Errorf("after the ejection ends (-want +got):\n%s", diff)
	}
}

func TestPickPanicMode(t *testing.T) {
	hs := testHosts(4)
	now := int64(time.Second)
	hs[0].ejectedAt.Store(int64(time.Minute))
	hs[1].ejectedAt.Store(int64(time.Minute))
	pk := newPicker(balRoundRobin, 1)
	// 2 of 4 available: 0.5 is not below 0.5, no panic.
	if _, p := pk.pick(hs, now, nil, nil); p {
		t.Fatal("panic with half the hosts available, want none")
	}
	hs[2].healthy.Store(false)
	got := shares(pk, hs, 400, now)
	if diff := cmp.Diff([]int{100, 100, 100, 100}, got); diff != "" {
		t.Errorf("panic mode shares (-want +got):\n%s", diff)
	}
	if _, p := pk.pick(hs, now, nil, nil); !p {
		t.Error("no panic with 1 of 4 hosts available")
	}
	// Drained hosts are not picked even in panic, and do not count.
	hs[3].drained.Store(true)
	got = shares(pk, hs, 300, now)
	if diff := cmp.Diff([]int{100, 100, 100, 0}, got); diff != "" {
		t.Errorf("panic mode with a drained host (-want +got):\n%s", diff)
	}
	// Panic off: only host 3 would be available, but it is drained.
	pk.panic = 0
	if i, _ := pk.pick(hs, now, nil, nil); i != -1 {
		t.Errorf("pick with panic off and no available host = %d, want -1", i)
	}
}

func TestPickTriedAndSkipped(t *testing.T) {
	hs := testHosts(3)
	for _, kind := range []uint8{balPeakEWMA, balLeastRequest, balRoundRobin} {
		pk := newPicker(kind, 3)
		for range 50 {
			var tried, skip mask
			tried.add(0)
			skip.add(1)
			if i, _ := pk.pick(hs, 0, &tried, &skip); i != 2 {
				t.Fatalf("balancer %d: pick = %d, want 2 (0 tried, 1 skipped)", kind, i)
			}
			tried.add(2)
			// Every host tried: a tried one is better than none; 1 stays skipped.
			if i, _ := pk.pick(hs, 0, &tried, &skip); i != 0 && i != 2 {
				t.Fatalf("balancer %d: pick with all tried = %d, want 0 or 2", kind, i)
			}
		}
	}
}

func TestPickP2C(t *testing.T) {
	now := int64(time.Second)
	t.Run("least_request", func(t *testing.T) {
		hs := testHosts(3)
		hs[0].active.Store(5)
		got := shares(newPicker(balLeastRequest, 42), hs, 3000, now)
		// Host 0 loses every pair it is in: it is never chosen.
		if got[0] != 0 || got[1] < 1200 || got[2] < 1200 {
			t.Errorf("shares %v, want none for the busy host 0 and about half each for 1 and 2", got)
		}
	})
	t.Run("peak_ewma", func(t *testing.T) {
		hs := testHosts(3)
		tau := float64(DefaultEWMADecay)
		hs[0].observeLocked(now, float64(300*time.Millisecond), tau) // peak: jumps at once
		if got := time.Duration(hs[0].ewma(now, tau)); got != 300*time.Millisecond {
			t.Fatalf("ewma after a 300ms peak = %v, want 300ms", got)
		}
		got := shares(newPicker(balPeakEWMA, 42), hs, 3000, now)
		if got[0] != 0 {
			t.Errorf("shares %v, want none for the slow host 0", got)
		}
		// Cost is ewma × (active+1): 27ms (30ms decayed for 1s) × 21 > 300ms × 1.
		hs[1].active.Store(20)
		hs[2].active.Store(20)
		got = shares(newPicker(balPeakEWMA, 42), hs, 3000, now)
		if got[0] < 1900 {
			t.Errorf("shares %v with hosts 1 and 2 busy, want host 0 in every pair it is in (~2000)", got)
		}
		// A lower RTT decays in with weight 1-e^(-Δt/τ): after τ, 63%.
		hs[0].observeLocked(now+int64(tau), 0, tau)
		if got, want := hs[0].ewma(now+int64(tau), tau), 300e6/math.E; math.Abs(got-want) > 1 {
			t.Errorf("ewma one τ after a zero RTT = %v, want %v", got, want)
		}
	})
	t.Run("seeded", func(t *testing.T) {
		hs := testHosts(5)
		a := shares(newPicker(balPeakEWMA, 9), hs, 100, now)
		b := shares(newPicker(balPeakEWMA, 9), hs, 100, now)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("same seed, different picks (-first +second):\n%s", diff)
		}
	})
}

func TestPickAllocs(t *testing.T) {
	hs := testHosts(10)
	for _, kind := range []uint8{balPeakEWMA, balLeastRequest, balRoundRobin} {
		pk := newPicker(kind, 1)
		var tried, skip mask
		tried.add(3)
		if n := testing.AllocsPerRun(1000, func() { pk.pick(hs, 5, &tried, &skip) }); n != 0 {
			t.Errorf("balancer %d: pick allocates %v times, want 0", kind, n)
		}
	}
}

// newDetached returns a pool over IP targets whose goroutines never tick
// within a test (hour-long intervals), for driving its decisions with
// explicit times.
func newDetached(t *testing.T, n int, o Outlier) *Pool {
	t.Helper()
	o.Interval = time.Hour
	cfg := Config{Name: "api", Outlier: o}
	for i := range n {
		cfg.Targets = append(cfg.Targets, "10.0.0."+string(rune('1'+i))+":80")
	}
	p := MustNew(cfg)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func TestEjectionMultiplierDecay(t *testing.T) {
	p := newDetached(t, 4, Outlier{BaseEjectionTime: 10 * time.Second, MaxEjectionTime: 25 * time.Second})
	h := p.hosts.Load().hosts[0]
	s := int64(time.Second)
	eject := func(now int64) time.Duration {
		t.Helper()
		hs := p.hosts.Load().hosts
		p.omu.Lock()
		evs := p.tryEjectLocked(nil, hs, h, ReasonConsecutive5xx, now)
		p.omu.Unlock()
		for _, e := range evs {
			if e.Kind == EventEjected {
				return e.Duration
			}
		}
		return 0
	}
	tick := func(now int64, full bool) []Event {
		evs, _ := p.outlierTick(now, full)
		return evs
	}
	steps := []struct {
		name string
		do   func() any
		want any
	}{
		{"first ejection", func() any { return eject(0) }, 10 * time.Second},
		{"still ejected: no second", func() any { return eject(5 * s) }, time.Duration(0)},
		{"readmitted at 10s", func() any { return len(tick(10*s, false)) }, 1},
		{"second ejection doubles", func() any { return eject(11 * s) }, 20 * time.Second},
		{"readmitted at 31s", func() any { return len(tick(31*s, true)) }, 1},
		{"readmission tick does not decay", func() any { return h.multiplier }, 2},
		{"one healthy interval decays", func() any { tick(41*s, true); return h.multiplier }, 1},
		{"third ejection from multiplier 1", func() any { return eject(42 * s) }, 20 * time.Second},
		{"readmitted", func() any { return len(tick(62*s, true)) }, 1},
		{"capped at MaxEjectionTime", func() any { return eject(63 * s) }, 25 * time.Second},
		{"expired ejection is readmitted by the next one", func() any { return eject(200 * s) }, 25 * time.Second},
	}
	for _, st := range steps {
		if got := st.do(); got != st.want {
			t.Fatalf("%s: got %v, want %v", st.name, got, st.want)
		}
	}
	if got := p.Status().Hosts[0].Ejections; got != 5 {
		t.Errorf("Ejections = %d, want 5", got)
	}
}

func TestMaxEjectionPercentDetached(t *testing.T) {
	p := newDetached(t, 5, Outlier{MaxEjectionPercent: 0.4})
	hs := p.hosts.Load().hosts
	var ejected int
	for _, h := range hs {
		p.ejectFor(h, ReasonConsecutive5xx, 0)
	}
	for _, h := range hs {
		if h.ejected {
			ejected++
		}
	}
	if ejected != 2 {
		t.Errorf("ejected %d of 5 hosts with MaxEjectionPercent 0.4, want 2", ejected)
	}
}

func TestIntervalRulesEject(t *testing.T) {
	p := newDetached(t, 3, Outlier{Latency: &Latency{MinRequests: 10, Threshold: 5 * time.Millisecond}})
	hs := p.hosts.Load().hosts
	for i, h := range hs {
		lat := 2 * time.Millisecond
		if i == 1 {
			lat = 40 * time.Millisecond
		}
		for range 20 {
			p.record(h, resSuccess, 200, lat, 0)
		}
	}
	evs, next := p.outlierTick(int64(time.Second), true)
	want := []Event{p.event(hs[1], EventEjected, ReasonLatency, int64(time.Second), DefaultBaseEjectionTime)}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if want := int64(time.Second + DefaultBaseEjectionTime); next != want {
		t.Errorf("next readmission at %v, want %v", time.Duration(next), time.Duration(want))
	}
	// The counters start again each interval.
	if evs, _ := p.outlierTick(2*int64(time.Second), true); len(evs) != 0 {
		t.Errorf("second interval with no traffic: events %v, want none", evs)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := []string{"127.0.0.1:80"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"valid", Config{Targets: ok}, ""},
		{"no targets", Config{}, "upstream: Config.Targets is empty"},
		{"no port", Config{Targets: []string{"api"}}, `upstream: Config.Targets[0] "api": address api: missing port in address`},
		{"bad port", Config{Targets: []string{"api:http"}}, `upstream: Config.Targets[0] "api:http": port "http" is not a number in 1–65535`},
		{"scheme", Config{Targets: ok, Scheme: "ftp"}, `upstream: Config.Scheme "ftp": want "http" or "https"`},
		{"balancer", Config{Targets: ok, Balancer: "random"}, `upstream: Config.Balancer "random": want "peak_ewma", "least_request" or "round_robin"`},
		{"negative timeout", Config{Targets: ok, ConnectTimeout: -1}, "upstream: Config.ConnectTimeout is negative (-1ns)"},
		{"jitter", Config{Targets: ok, HealthCheck: &HealthCheck{Jitter: 1}}, "upstream: HealthCheck.Jitter 1 must be below 1"},
		{"path", Config{Targets: ok, HealthCheck: &HealthCheck{Path: "healthz"}}, `upstream: HealthCheck.Path "healthz" must start with /`},
		{"status", Config{Targets: ok, HealthCheck: &HealthCheck{ExpectedStatuses: []int{2000}}}, "upstream: HealthCheck.ExpectedStatuses: 2000 is not an HTTP status"},
		{"max below base", Config{Targets: ok, Outlier: Outlier{BaseEjectionTime: time.Minute, MaxEjectionTime: time.Second}}, "upstream: Outlier.MaxEjectionTime 1s is below BaseEjectionTime 1m0s"},
		{"percent", Config{Targets: ok, Outlier: Outlier{MaxEjectionPercent: 50}}, "upstream: Outlier.MaxEjectionPercent 50 must be in [0, 1]"},
		{"latency factor", Config{Targets: ok, Outlier: Outlier{Latency: &Latency{Factor: 0.5}}}, "upstream: Outlier.Latency.Factor 0.5 must be at least 1"},
	} {
		err := tc.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: Validate() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
