package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func newMetrics(t testing.TB) (*telemetry.Metrics, *sdkmetric.ManualReader) {
	return newMetricsMode(t, false)
}

// newMetricsMode returns a Metrics and its reader; with local, the duration
// histograms are aggregated by a telemetry.Histograms given to the reader.
func newMetricsMode(t testing.TB, local bool) (*telemetry.Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	cfg := telemetry.MetricsConfig{}
	var opts []sdkmetric.ManualReaderOption
	if local {
		cfg.Histograms = telemetry.NewHistograms()
		opts = append(opts, sdkmetric.WithProducer(cfg.Histograms))
	}
	r := sdkmetric.NewManualReader(opts...)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	cfg.MeterProvider = mp
	return telemetry.MustNewMetrics(cfg), r
}

// modes runs f with the SDK's histograms and with in-process ones.
func modes(t *testing.T, f func(t *testing.T, local bool)) {
	for _, local := range []bool{false, true} {
		name := "sdk"
		if local {
			name = "local"
		}
		t.Run(name, func(t *testing.T) { f(t, local) })
	}
}

func TestMetricsObserve(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	ev := func(kind keel.EventKind, policy, name string) keel.Event {
		return keel.Event{Kind: kind, Policy: policy, Name: name}
	}
	with := func(e keel.Event, f func(*keel.Event)) keel.Event { f(&e); return e }
	tests := []struct {
		name   string
		events []keel.Event
		metric string
		want   map[string]float64
	}{
		{
			name: "calls by outcome",
			events: []keel.Event{
				with(ev(keel.EventSuccess, "breaker", "db"), func(e *keel.Event) { e.Duration = time.Millisecond }),
				with(ev(keel.EventSuccess, "breaker", "db"), func(e *keel.Event) { e.Duration = time.Millisecond }),
				with(ev(keel.EventFailure, "breaker", "db"), func(e *keel.Event) { e.Outcome, e.Err = keel.OutcomeFailure, errBoom }),
				with(ev(keel.EventFailure, "breaker", "db"), func(e *keel.Event) { e.Outcome = keel.OutcomePermanent }),
				// A failure event without an outcome is still a failure.
				ev(keel.EventFailure, "breaker", "api"),
			},
			metric: telemetry.MetricCallDuration,
			want: map[string]float64{
				"keel.name=db,keel.outcome=success,keel.policy=breaker":   2,
				"keel.name=db,keel.outcome=failure,keel.policy=breaker":   1,
				"keel.name=db,keel.outcome=permanent,keel.policy=breaker": 1,
				"keel.name=api,keel.outcome=failure,keel.policy=breaker":  1,
			},
		},
		{
			name: "attempts by outcome",
			events: []keel.Event{
				with(ev(keel.EventAttempt, "retry", "r"), func(e *keel.Event) { e.Attempt, e.Outcome = 1, keel.OutcomeFailure }),
				with(ev(keel.EventAttempt, "retry", "r"), func(e *keel.Event) { e.Attempt, e.Outcome = 2, keel.OutcomeNeutral }),
				with(ev(keel.EventAttempt, "retry", "r"), func(e *keel.Event) { e.Attempt, e.Outcome = 3, keel.Outcome(200) }),
			},
			metric: telemetry.MetricAttemptDuration,
			want: map[string]float64{
				"keel.name=r,keel.outcome=failure,keel.policy=retry": 1,
				"keel.name=r,keel.outcome=neutral,keel.policy=retry": 1,
				"keel.name=r,keel.outcome=unknown,keel.policy=retry": 1,
			},
		},
		{
			name: "rejections by reason, budget denials included",
			events: []keel.Event{
				with(ev(keel.EventRejected, "breaker", "db"), func(e *keel.Event) { e.Reason = keel.ReasonCircuitOpen }),
				with(ev(keel.EventRejected, "breaker", "db"), func(e *keel.Event) { e.Reason = keel.ReasonCircuitOpen }),
				with(ev(keel.EventRejected, "bulkhead", "db"), func(e *keel.Event) { e.Reason = keel.ReasonBulkheadFull }),
				with(ev(keel.EventRejected, "retry", "db"), func(e *keel.Event) { e.Reason = keel.ReasonBudget }),
				with(ev(keel.EventRejected, "x", ""), func(e *keel.Event) { e.Reason = keel.Reason(250) }),
			},
			metric: telemetry.MetricRejections,
			want: map[string]float64{
				"keel.name=db,keel.policy=breaker,keel.reason=circuit_open":   2,
				"keel.name=db,keel.policy=bulkhead,keel.reason=bulkhead_full": 1,
				"keel.name=db,keel.policy=retry,keel.reason=budget":           1,
				"keel.name=,keel.policy=x,keel.reason=unknown":                1,
			},
		},
		{
			name:   "retries",
			events: []keel.Event{ev(keel.EventRetry, "retry", "r"), ev(keel.EventRetry, "retry", "r")},
			metric: telemetry.MetricRetries,
			want:   map[string]float64{"keel.name=r,keel.policy=retry": 2},
		},
		{
			name: "exhausted by reason",
			events: []keel.Event{
				ev(keel.EventExhausted, "retry", "r"),
				with(ev(keel.EventExhausted, "retry", "r"), func(e *keel.Event) { e.Reason = keel.ReasonDeadline }),
			},
			metric: telemetry.MetricExhausted,
			want: map[string]float64{
				"keel.name=r,keel.policy=retry,keel.reason=none":     1,
				"keel.name=r,keel.policy=retry,keel.reason=deadline": 1,
			},
		},
		{
			name:   "fallbacks",
			events: []keel.Event{ev(keel.EventFallback, "fallback", "f")},
			metric: telemetry.MetricFallbacks,
			want:   map[string]float64{"keel.name=f,keel.policy=fallback": 1},
		},
		{
			name: "idempotency rejections by reason",
			events: []keel.Event{
				with(ev(keel.EventRejected, "idempotency", "orders"), func(e *keel.Event) { e.Reason = keel.ReasonInProgress }),
				with(ev(keel.EventRejected, "idempotency", "orders"), func(e *keel.Event) { e.Reason = keel.ReasonKeyReused }),
				with(ev(keel.EventRejected, "idempotency", "orders"), func(e *keel.Event) { e.Reason = keel.ReasonInvalid }),
			},
			metric: telemetry.MetricRejections,
			want: map[string]float64{
				"keel.name=orders,keel.policy=idempotency,keel.reason=in_progress": 1,
				"keel.name=orders,keel.policy=idempotency,keel.reason=key_reused":  1,
				"keel.name=orders,keel.policy=idempotency,keel.reason=invalid":     1,
			},
		},
		{
			name:   "idempotency replays",
			events: []keel.Event{ev(keel.EventReplayed, "idempotency", "orders"), ev(keel.EventReplayed, "idempotency", "orders")},
			metric: telemetry.MetricReplays,
			want:   map[string]float64{"keel.name=orders,keel.policy=idempotency": 2},
		},
		{
			name:   "idempotency takeovers",
			events: []keel.Event{with(ev(keel.EventTakeover, "idempotency", "orders"), func(e *keel.Event) { e.Attempt = 2 })},
			metric: telemetry.MetricTakeovers,
			want:   map[string]float64{"keel.name=orders,keel.policy=idempotency": 1},
		},
		{
			name:   "idempotency leases lost",
			events: []keel.Event{ev(keel.EventLeaseLost, "idempotency", "orders"), ev(keel.EventLeaseLost, "idempotency", "orders"), ev(keel.EventLeaseLost, "idempotency", "")},
			metric: telemetry.MetricLeasesLost,
			want: map[string]float64{
				"keel.name=orders,keel.policy=idempotency": 2,
				"keel.name=,keel.policy=idempotency":       1,
			},
		},
		{
			name:   "timeouts",
			events: []keel.Event{ev(keel.EventTimeout, "timeout", "t"), ev(keel.EventTimeout, "timeout", "t")},
			metric: telemetry.MetricTimeouts,
			want:   map[string]float64{"keel.name=t,keel.policy=timeout": 2},
		},
		{
			name:   "abandoned",
			events: []keel.Event{ev(keel.EventAbandoned, "timeout", "t"), ev(keel.EventAbandoned, "timeout", "t"), ev(keel.EventAbandonedExit, "timeout", "t")},
			metric: telemetry.MetricAbandoned,
			want:   map[string]float64{"keel.name=t,keel.policy=timeout": 2},
		},
		{
			name:   "abandoned still running",
			events: []keel.Event{ev(keel.EventAbandoned, "timeout", "t"), ev(keel.EventAbandoned, "timeout", "t"), ev(keel.EventAbandonedExit, "timeout", "t")},
			metric: telemetry.MetricAbandonedRunning,
			want:   map[string]float64{"keel.name=t,keel.policy=timeout": 1},
		},
		{
			name: "waits",
			events: []keel.Event{
				ev(keel.EventAcquired, "bulkhead", "b"),
				with(ev(keel.EventAcquired, "bulkhead", "b"), func(e *keel.Event) { e.Duration = 3 * time.Millisecond }),
				with(ev(keel.EventAcquired, "ratelimit", "l"), func(e *keel.Event) { e.Duration = time.Second }),
			},
			metric: telemetry.MetricWaitDuration,
			want: map[string]float64{
				"keel.name=b,keel.policy=bulkhead":  2,
				"keel.name=l,keel.policy=ratelimit": 1,
			},
		},
		{
			name: "transitions",
			events: []keel.Event{
				with(ev(keel.EventStateChange, "breaker", "db"), func(e *keel.Event) { e.From, e.To = "closed", "open" }),
				with(ev(keel.EventStateChange, "breaker", "db"), func(e *keel.Event) { e.From, e.To = "open", "half_open" }),
				with(ev(keel.EventStateChange, "breaker", "db"), func(e *keel.Event) { e.From, e.To = "half_open", "open" }),
				with(ev(keel.EventStateChange, "breaker", "db"), func(e *keel.Event) { e.From, e.To = "open", "half_open" }),
			},
			metric: telemetry.MetricTransitions,
			want: map[string]float64{
				"keel.from=closed,keel.name=db,keel.policy=breaker,keel.to=open":    1,
				"keel.from=open,keel.name=db,keel.policy=breaker,keel.to=half_open": 2,
				"keel.from=half_open,keel.name=db,keel.policy=breaker,keel.to=open": 1,
			},
		},
		{
			name: "breaker state from events of an unregistered breaker",
			events: []keel.Event{
				with(ev(keel.EventStateChange, "breaker", "db"), func(e *keel.Event) { e.From, e.To = "closed", "open" }),
			},
			metric: telemetry.MetricBreakerState,
			want: map[string]float64{
				"keel.name=db,keel.state=closed":       0,
				"keel.name=db,keel.state=open":         1,
				"keel.name=db,keel.state=half_open":    0,
				"keel.name=db,keel.state=disabled":     0,
				"keel.name=db,keel.state=forced_open":  0,
				"keel.name=db,keel.state=metrics_only": 0,
			},
		},
		{
			name: "bulkhead occupancy from the last event",
			events: []keel.Event{
				with(ev(keel.EventAcquired, "bulkhead", "b"), func(e *keel.Event) { e.InFlight, e.Queued = 2, 0 }),
				with(ev(keel.EventRejected, "bulkhead", "b"), func(e *keel.Event) { e.InFlight, e.Queued = 4, 3 }),
				with(ev(keel.EventReleased, "bulkhead", "b"), func(e *keel.Event) { e.InFlight, e.Queued = 4, 2 }),
				// Rate limiters have no occupancy.
				with(ev(keel.EventAcquired, "ratelimit", "l"), func(e *keel.Event) { e.InFlight = 9 }),
			},
			metric: telemetry.MetricQueued,
			want:   map[string]float64{"keel.name=b": 2},
		},
	}
	modes(t, func(t *testing.T, local bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m, r := newMetricsMode(t, local)
				for _, e := range tt.events {
					m.Observe(ctx, e)
				}
				got := points(t, collect(t, r)[tt.metric])
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s points (-want +got):\n%s", tt.metric, diff)
				}
			})
		}
	})
}

func TestMetricsHistogramBuckets(t *testing.T) {
	modes(t, func(t *testing.T, local bool) {
		m, r := newMetricsMode(t, local)
		// Bucket i holds values in (bounds[i-1], bounds[i]]: 2 ms is in the
		// 2 ms bucket, 3 ms and 5 ms in the 5 ms one, 31 s in the overflow.
		for _, d := range []time.Duration{2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond, 31 * time.Second} {
			m.Observe(context.Background(), keel.Event{Kind: keel.EventSuccess, Policy: "breaker", Duration: d})
		}
		h := collect(t, r)[telemetry.MetricCallDuration]
		if h.Unit != "s" {
			t.Errorf("unit: got %q, want %q", h.Unit, "s")
		}
		dp := h.Data.(metricdata.Histogram[float64]).DataPoints[0]
		if diff := cmp.Diff(telemetry.DefaultBuckets, dp.Bounds); diff != "" {
			t.Errorf("bounds (-want +got):\n%s", diff)
		}
		if got, want := dp.Sum, 31.010; got < want-1e-9 || got > want+1e-9 {
			t.Errorf("sum: got %v, want %v", got, want)
		}
		want := make([]uint64, len(telemetry.DefaultBuckets)+1)
		want[4] = 1           // ≤ 0.002
		want[5] = 2           // ≤ 0.005
		want[len(want)-1] = 1 // > 30
		if diff := cmp.Diff(want, dp.BucketCounts); diff != "" || dp.Count != 4 {
			t.Errorf("count %d, bucket counts (-want +got):\n%s", dp.Count, diff)
		}
	})
}

func TestMetricsBreakerStateBeforeAnyTransition(t *testing.T) {
	m, r := newMetrics(t)
	br := breaker.MustNew(breaker.Config{Name: "db", Observer: m})
	unregister := m.RegisterBreaker(br)

	want := func(cur string) map[string]float64 {
		out := map[string]float64{}
		for _, st := range []string{"closed", "open", "half_open", "disabled", "forced_open", "metrics_only"} {
			out["keel.name=db,keel.state="+st] = 0
		}
		out["keel.name=db,keel.state="+cur] = 1
		return out
	}
	if diff := cmp.Diff(want("closed"), points(t, collect(t, r)[telemetry.MetricBreakerState])); diff != "" {
		t.Errorf("first collection (-want +got):\n%s", diff)
	}
	br.ForceOpen()
	if diff := cmp.Diff(want("forced_open"), points(t, collect(t, r)[telemetry.MetricBreakerState])); diff != "" {
		t.Errorf("after ForceOpen (-want +got):\n%s", diff)
	}
	unregister()
	unregister() // harmless
	// The breaker's own transition event keeps it in the gauge.
	if diff := cmp.Diff(want("forced_open"), points(t, collect(t, r)[telemetry.MetricBreakerState])); diff != "" {
		t.Errorf("after unregister (-want +got):\n%s", diff)
	}
}

func TestMetricsRegisteredBulkhead(t *testing.T) {
	m, r := newMetrics(t)
	bh := bulkhead.MustNew(bulkhead.Config{Name: "pool", MaxConcurrent: 2, Observer: m})
	m.RegisterBulkhead("pool", bh)
	p1, err := bh.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Release()
	got := collect(t, r)
	if diff := cmp.Diff(map[string]float64{"keel.name=pool": 1}, points(t, got[telemetry.MetricInFlight])); diff != "" {
		t.Errorf("in flight (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"keel.name=pool": 0}, points(t, got[telemetry.MetricQueued])); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
}

func TestMetricsClose(t *testing.T) {
	m, r := newMetrics(t)
	m.RegisterBulkhead("pool", bulkhead.MustNew(bulkhead.Config{}))
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got, ok := collect(t, r)[telemetry.MetricInFlight]; ok && len(points(t, got)) > 0 {
		t.Errorf("in flight after Close: got %v, want no points", points(t, got))
	}
}

func TestMetricsObserveAllocs(t *testing.T) {
	modes(t, func(t *testing.T, local bool) { testObserveAllocs(t, local) })
}

func testObserveAllocs(t *testing.T, local bool) {
	m, _ := newMetricsMode(t, local)
	ctx := context.Background()
	events := []keel.Event{
		{Kind: keel.EventSuccess, Policy: "breaker", Name: "db", Duration: time.Millisecond},
		{Kind: keel.EventFailure, Policy: "breaker", Name: "db", Outcome: keel.OutcomeFailure},
		{Kind: keel.EventAttempt, Policy: "retry", Name: "db", Attempt: 1},
		{Kind: keel.EventRetry, Policy: "retry", Name: "db", Attempt: 2},
		{Kind: keel.EventRejected, Policy: "bulkhead", Name: "db", Reason: keel.ReasonBulkheadFull},
		{Kind: keel.EventAcquired, Policy: "bulkhead", Name: "db", InFlight: 1},
		{Kind: keel.EventReleased, Policy: "bulkhead", Name: "db"},
		{Kind: keel.EventStateChange, Policy: "breaker", Name: "db", From: "closed", To: "open"},
		{Kind: keel.EventTimeout, Policy: "timeout", Name: "db"},
		{Kind: keel.EventFallback, Policy: "fallback", Name: "db"},
		{Kind: keel.EventReplayed, Policy: "idempotency", Name: "orders"},
		{Kind: keel.EventTakeover, Policy: "idempotency", Name: "orders", Attempt: 2},
		{Kind: keel.EventLeaseLost, Policy: "idempotency", Name: "orders"},
		{Kind: keel.EventRejected, Policy: "idempotency", Name: "orders", Reason: keel.ReasonKeyReused},
	}
	for _, e := range events {
		m.Observe(ctx, e) // the first event of each instance builds its attribute sets
	}
	for _, e := range events {
		if got := testing.AllocsPerRun(100, func() { m.Observe(ctx, e) }); got != 0 {
			t.Errorf("Observe(%v): got %v allocs, want 0", e.Kind, got)
		}
	}
}

func TestMetricsConfigValidate(t *testing.T) {
	tests := []struct {
		buckets []float64
		want    string // substring of the error, "" for none
	}{
		{nil, ""},
		{[]float64{0.1, 1, 10}, ""},
		{[]float64{0}, "Buckets[0] is 0, want > 0"},
		{[]float64{-1}, "Buckets[0] is -1, want > 0"},
		{[]float64{1, 1}, "Buckets[1] is 1, want > Buckets[0] (1)"},
		{[]float64{2, 1}, "Buckets[1] is 1, want > Buckets[0] (2)"},
		{[]float64{1, inf()}, "Buckets[1] is +Inf, want a finite number"},
	}
	for _, tt := range tests {
		cfg := telemetry.MetricsConfig{Buckets: tt.buckets}
		err := cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) {
			t.Errorf("Validate(%v): got %q, want %q", tt.buckets, got, tt.want)
		}
		if _, err := telemetry.NewMetrics(cfg); (err == nil) != (tt.want == "") {
			t.Errorf("NewMetrics(%v): got error %v, want error %v", tt.buckets, err, tt.want != "")
		}
	}
}

func inf() float64 { var z float64; return 1 / z }

// A breaker-guarded call observed by Metrics allocates nothing.
func TestBreakerWithMetricsAllocs(t *testing.T) {
	modes(t, func(t *testing.T, local bool) { testBreakerWithMetricsAllocs(t, local) })
}

func testBreakerWithMetricsAllocs(t *testing.T, local bool) {
	m, _ := newMetricsMode(t, local)
	br := breaker.MustNew(breaker.Config{Name: "db", Observer: m})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	_ = br.Do(ctx, op)
	if got := testing.AllocsPerRun(200, func() { _ = br.Do(ctx, op) }); got != 0 {
		t.Errorf("breaker.Do with Metrics: got %v allocs, want 0", got)
	}
}

// The gauge reads State at collection: an open breaker whose open time has
// passed is reported half-open although no call arrived, and the transition
// it emits from inside the collection is counted.
func TestMetricsBreakerStateComputedOnRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, r := newMetrics(t)
		br := breaker.MustNew(breaker.Config{Name: "db", Observer: m, WindowSize: 2, MinimumCalls: 2,
			OpenDuration: 10 * time.Millisecond, MaxOpenDuration: 10 * time.Millisecond})
		m.RegisterBreaker(br)
		for range 2 {
			_ = br.Do(context.Background(), func(context.Context) error { return errors.New("down") })
		}
		current := func() string {
			for k, v := range points(t, collect(t, r)[telemetry.MetricBreakerState]) {
				if v == 1 {
					return k
				}
			}
			return ""
		}
		if got, want := current(), "keel.name=db,keel.state=open"; got != want {
			t.Fatalf("after two failures: got %q, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
		if got, want := current(), "keel.name=db,keel.state=half_open"; got != want {
			t.Errorf("after the open duration: got %q, want %q", got, want)
		}
		got := points(t, collect(t, r)[telemetry.MetricTransitions])
		want := map[string]float64{
			"keel.from=closed,keel.name=db,keel.policy=breaker,keel.to=open":    1,
			"keel.from=open,keel.name=db,keel.policy=breaker,keel.to=half_open": 1,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("transitions (-want +got):\n%s", diff)
		}
	})
}

// Concurrent events of new and known instances, with collections running,
// lose nothing.
func TestMetricsConcurrent(t *testing.T) {
	modes(t, func(t *testing.T, local bool) {
		m, r := newMetricsMode(t, local)
		const workers, perWorker, names = 4, 500, 10
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					name := fmt.Sprint("n", (w+i)%names)
					m.Observe(context.Background(), keel.Event{Kind: keel.EventSuccess, Policy: "breaker", Name: name})
					m.Observe(context.Background(), keel.Event{Kind: keel.EventRejected, Policy: "breaker", Name: name, Reason: keel.ReasonCircuitOpen})
				}
			})
		}
		wg.Go(func() {
			for range 20 {
				collect(t, r)
			}
		})
		wg.Wait()
		got := collect(t, r)
		for _, metric := range []string{telemetry.MetricCallDuration, telemetry.MetricRejections} {
			pts := points(t, got[metric])
			total := 0.0
			for _, v := range pts {
				total += v
			}
			if len(pts) != names || total != workers*perWorker {
				t.Errorf("%s: got %d series totaling %v, want %d totaling %d", metric, len(pts), total, names, workers*perWorker)
			}
		}
	})
}
