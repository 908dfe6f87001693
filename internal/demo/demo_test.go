package demo

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel/gateway/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{Duration: 20 * time.Second, ChargeRate: 10, ReadRate: 1000}, ""},
		{Config{Duration: 5 * time.Second}, "Duration 5s is shorter than 10s"},
		{Config{ChargeRate: -1}, "ChargeRate -1 is not in [0, 1000]"},
		{Config{ReadRate: 1001}, "ReadRate 1001 is not in [0, 1000]"},
	} {
		err := tc.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) || (tc.want == "") != (err == nil) {
			t.Errorf("%+v.Validate() = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

// TestGatewayConfig checks that both generated configurations are valid
// gateway files and use (or leave out) the policies the demo relies on.
func TestGatewayConfig(t *testing.T) {
	spec := gatewaySpec{
		listen: "127.0.0.1:8080", admin: "127.0.0.1:9901", token: "secret", dataDir: t.TempDir(),
		payments: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, recommendations: []string{"127.0.0.1:4", "127.0.0.1:5"}, seed: 42,
	}
	for _, noRes := range []bool{false, true} {
		spec.noResilience = noRes
		cfg, err := config.Parse("keel.yaml", []byte(gatewayConfig(spec)), func(string) string { return "" })
		if err != nil {
			t.Fatalf("noResilience=%v: the generated file is invalid: %v\n%s", noRes, err, gatewayConfig(spec))
		}
		if len(cfg.Routes) != 2 || cfg.Routes[0].Name != "charges" || cfg.Routes[1].Name != "recommendations" {
			t.Fatalf("noResilience=%v: routes %+v, want charges and recommendations", noRes, cfg.Routes)
		}
		charges, recs := cfg.Routes[0], cfg.Routes[1]
		pay := cfg.Upstreams["payments"]
		type policies struct {
			Idempotency, Hedge, Cache, Fallback, Flag, HealthCheck, Outlier, Breaker bool
			ChargeAttempts                                                           int
		}
		got := policies{
			Idempotency: charges.Idempotency != nil, Hedge: recs.Hedge != nil, Cache: recs.Cache != nil,
			Fallback: recs.Fallback != nil, Flag: recs.Flag != "", HealthCheck: pay.HealthCheck != nil,
			Outlier: !pay.Outlier.Disabled, Breaker: !pay.Breaker.Disabled, ChargeAttempts: charges.Retry.Attempts,
		}
		want := policies{true, true, true, true, true, true, true, true, 4}
		if noRes {
			want = policies{ChargeAttempts: 1}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("noResilience=%v: policies (-want +got):\n%s", noRes, diff)
		}
		if noRes {
			continue
		}
		// A recommendations replica that answers only errors opens its
		// breaker before outlier detection ejects it, even after a failed
		// half-open probe or two; the errors window (30% of attempts) does
		// not open it.
		rb, ro := cfg.Upstreams["recommendations"].Breaker, cfg.Upstreams["recommendations"].Outlier
		toOpen := int(math.Ceil(float64(rb.FailureRate) * float64(rb.Window))) // FailureRate is a fraction
		if toOpen < rb.MinimumCalls || toOpen+2*rb.HalfOpenPermits >= ro.Consecutive5xx {
			t.Errorf("recommendations: the breaker opens after %d failures (at least %d calls), probes %d at a time; outlier ejection after %d 5xx in a row: want the breaker first",
				toOpen, rb.MinimumCalls, rb.HalfOpenPermits, ro.Consecutive5xx)
		}
		if rb.FailureRate <= 0.5 {
			t.Errorf("recommendations: breaker failure rate %v%%: want well above the errors window's 30%%", 100*float64(rb.FailureRate))
		}
	}
}

func TestSchedule(t *testing.T) {
	for _, d := range []time.Duration{10 * time.Second, 15 * time.Second, 60 * time.Second, 5 * time.Minute} {
		acts := schedule(d, 7)
		if diff := cmp.Diff(acts, schedule(d, 7)); diff != "" {
			t.Fatalf("%v: the same seed gave another schedule:\n%s", d, diff)
		}
		count := map[actionKind]int{}
		var last time.Duration
		for _, a := range acts {
			count[a.Kind]++
			if a.At < last || a.At >= d {
				t.Errorf("%v: action at %v out of order or past the end", d, a.At)
			}
			last = a.At
			if a.Kind == actKill && (a.Restart < 2*time.Second || a.Restart > 4*time.Second || a.At > d-4*time.Second) {
				t.Errorf("%v: kill at %v restarting after %v: want a restart in [2s, 4s], no kill in the last 4s", d, a.At, a.Restart)
			}
			if a.Kind != actKill && (a.Length < 2*time.Second || a.At+a.Length > d) {
				t.Errorf("%v: window at %v for %v: want at least 2s, ending before the run does", d, a.At, a.Length)
			}
			// The bad replica's window outlasts the breaker's open
			// duration (2s), so that a half-open probe fails and the
			// breaker opens again; it can close before the run ends.
			if a.Kind == actBadReplica && (a.Length < 3*time.Second || a.Length > 6*time.Second || a.At+a.Length+2*time.Second > d) {
				t.Errorf("%v: bad replica at %v for %v: want 3s to 6s, ending at least 2s before the run does", d, a.At, a.Length)
			}
		}
		wantKills := max(1, int((d-5*time.Second)/(12*time.Second))) // at least one kill per 12s after the first
		if count[actKill] < wantKills || count[actLatency] != 1 || count[actErrors] != 1 || count[actNetwork] != 1 || count[actBadReplica] != 1 {
			t.Errorf("%v: got %d kills, %d latency, %d error, %d network and %d bad replica windows; want at least %d kills and one window of each",
				d, count[actKill], count[actLatency], count[actErrors], count[actNetwork], count[actBadReplica], wantKills)
		}
	}
	if cmp.Equal(schedule(time.Minute, 1), schedule(time.Minute, 2)) {
		t.Error("seeds 1 and 2 gave the same schedule")
	}
}

func TestSumCounters(t *testing.T) {
	const text = `# HELP keel_retries_total Retries.
# TYPE keel_retries_total counter
keel_retries_total{keel_name="charges",keel_policy="retry"} 12
keel_retries_total{keel_name="recommendations",keel_policy="retry"} 30
keel_retries_total_other{keel_name="x"} 1000
keel_hedge_sent_total{keel_name="recommendations"} 7 1700000000000
keel_hedge_sent_total_created 5
`
	got, err := sumCounters(strings.NewReader(text), "keel_retries_total", "keel_hedge_sent_total", "keel_missing_total")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"keel_retries_total": 42, "keel_hedge_sent_total": 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sumCounters (-want +got):\n%s", diff)
	}
}

func TestProblems(t *testing.T) {
	ok := APIResult{Requests: 1000, Succeeded: 1000}
	for _, tc := range []struct {
		name string
		v    Verdict
		want []string
	}{
		{"pass", Verdict{Resilient: true, Charges: ok, Reads: ok}, nil},
		{"duplicates", Verdict{Resilient: true, Charges: ok, Reads: ok, Duplicates: 2}, []string{"2 charges applied twice"}},
		{"lost", Verdict{Charges: ok, Reads: ok, Lost: 1}, []string{"1 acknowledged charges lost"}},
		{"charges below target", Verdict{Resilient: true, Charges: APIResult{Requests: 1000, Succeeded: 998}, Reads: ok},
			[]string{"charges succeeded 99.80% of the time, below the 99.90% target"}},
		{"reads below target", Verdict{Resilient: true, Charges: ok, Reads: APIResult{Requests: 100, Succeeded: 98}},
			[]string{"recommendations succeeded 98.00% of the time, below the 99.00% target"}},
		{"no target without keel", Verdict{Charges: APIResult{Requests: 10, Succeeded: 1}, Reads: ok}, nil},
		{"nothing sent", Verdict{Resilient: true}, []string{"no charge was sent"}},
	} {
		got := tc.v.Problems()
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: Problems() (-want +got):\n%s", tc.name, diff)
		}
		if tc.v.OK() != (len(tc.want) == 0) {
			t.Errorf("%s: OK() = %v with problems %q", tc.name, tc.v.OK(), got)
		}
	}
}

func TestWriteTable(t *testing.T) {
	with := Verdict{Resilient: true, Charges: APIResult{Requests: 2400, Succeeded: 2400, P50: 17 * time.Millisecond, P95: 40 * time.Millisecond, P99: 90 * time.Millisecond},
		Reads: APIResult{Requests: 3600, Succeeded: 3600, Stale: 40, Fallback: 3}, GatewayRetries: 200, Hedges: 60, LedgerEntries: 2400}
	without := Verdict{Charges: APIResult{Requests: 2400, Succeeded: 2390}, Reads: APIResult{Requests: 3600, Succeeded: 3550}, Duplicates: 48, LedgerEntries: 2450}
	var b bytes.Buffer
	if err := WriteTable(&b, without, with); err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("row %q has fewer than 2 cells", line)
		}
		// The label is every field but the last two (the last two cells).
		rows[strings.Join(f[:len(f)-2], " ")] = f[len(f)-2:]
	}
	for label, want := range map[string][]string{
		"charges succeeded":          {"99.58%", "100%"},
		"duplicate charges (want 0)": {"48", "0"},
		"stale answers (cache)":      {"0", "40"},
		"verdict":                    {"FAIL", "PASS"},
		"charges in the ledger":      {"2450", "2400"},
	} {
		if diff := cmp.Diff(want, rows[label]); diff != "" {
			t.Errorf("row %q (-want +got):\n%s\ntable:\n%s", label, diff, b.String())
		}
	}
}

// Two chaos actions in the same second both reach the status line, once;
// the latest stays until the next one.
func TestActionLog(t *testing.T) {
	var l actionLog
	if got := l.take(); got != "" {
		t.Fatalf("empty log: got %q, want \"\"", got)
	}
	l.add("payments-1 (pid 7) killed with SIGKILL; back in 2s")
	l.add("fault recommendations-errors for 3s")
	want := "payments-1 (pid 7) killed with SIGKILL; back in 2s; fault recommendations-errors for 3s"
	if got := l.take(); got != want {
		t.Errorf("first line: got %q, want %q", got, want)
	}
	if got := l.take(); got != want {
		t.Errorf("next line, nothing new: got %q, want %q", got, want)
	}
	l.add("fault recommendations-errors ended")
	if got, want := l.take(), "fault recommendations-errors ended"; got != want {
		t.Errorf("after one more action: got %q, want %q", got, want)
	}
}
