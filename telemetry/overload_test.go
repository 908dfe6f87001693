package telemetry_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/shed"
	"github.com/keelhq/keel/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestMetricsOverload(t *testing.T) {
	ctx := context.Background()
	rejected := func(name string, c shed.Criticality) keel.Event {
		return keel.Event{Kind: keel.EventRejected, Policy: "shed", Name: name, Reason: keel.ReasonLimit,
			Err: &shed.RejectedError{Name: name, Criticality: c}}
	}
	hedgeEv := func(kind keel.EventKind, attempt int, reason keel.Reason) keel.Event {
		return keel.Event{Kind: kind, Policy: "hedge", Name: "search", Attempt: attempt, Reason: reason}
	}
	limitEv := func(kind keel.EventKind, inFlight int, from, to string) keel.Event {
		return keel.Event{Kind: kind, Policy: "limit", Name: "db", InFlight: inFlight, From: from, To: to}
	}
	tests := []struct {
		name   string
		events []keel.Event
		metric string
		want   map[string]float64
	}{
		{
			name: "shed by criticality",
			events: []keel.Event{
				rejected("api", shed.Sheddable), rejected("api", shed.Sheddable), rejected("api", shed.Default),
				rejected("api", shed.Critical), rejected("batch", shed.Sheddable),
				// Without a *shed.RejectedError there is no class to count.
				{Kind: keel.EventRejected, Policy: "shed", Name: "api", Reason: keel.ReasonLimit},
			},
			metric: telemetry.MetricShed,
			want: map[string]float64{
				"keel.criticality=sheddable,keel.name=api":   2,
				"keel.criticality=default,keel.name=api":     1,
				"keel.criticality=critical,keel.name=api":    1,
				"keel.criticality=sheddable,keel.name=batch": 1,
			},
		},
		{
			name:   "shed requests are rejections too",
			events: []keel.Event{rejected("api", shed.Sheddable), rejected("api", shed.Default)},
			metric: telemetry.MetricRejections,
			want:   map[string]float64{"keel.name=api,keel.policy=shed,keel.reason=limit": 2},
		},
		{
			name: "hedges sent",
			events: []keel.Event{
				hedgeEv(keel.EventRetry, 2, 0), hedgeEv(keel.EventRetry, 3, 0), hedgeEv(keel.EventRetry, 2, 0),
				{Kind: keel.EventRetry, Policy: "retry", Name: "search", Attempt: 2}, // a retry, not a hedge
			},
			metric: telemetry.MetricHedges,
			want:   map[string]float64{"keel.name=search": 3},
		},
		{
			name: "hedges won",
			events: []keel.Event{
				hedgeEv(keel.EventSuccess, 1, 0), hedgeEv(keel.EventSuccess, 2, 0), hedgeEv(keel.EventSuccess, 3, 0),
				hedgeEv(keel.EventFailure, 2, 0),
			},
			metric: telemetry.MetricHedgeWins,
			want:   map[string]float64{"keel.name=search": 2},
		},
		{
			name: "hedges suppressed by the budget",
			events: []keel.Event{
				hedgeEv(keel.EventRejected, 2, keel.ReasonBudget), hedgeEv(keel.EventRejected, 2, keel.ReasonBudget),
				{Kind: keel.EventRejected, Policy: "retry", Name: "search", Reason: keel.ReasonBudget},
			},
			metric: telemetry.MetricHedgesSuppressed,
			want:   map[string]float64{"keel.name=search": 2},
		},
		{
			name: "limit from the last change of an unregistered limiter",
			events: []keel.Event{
				limitEv(keel.EventStateChange, 3, "20", "21"), limitEv(keel.EventStateChange, 3, "21", "10"),
				limitEv(keel.EventStateChange, 3, "10", "x"), // malformed: ignored
			},
			metric: telemetry.MetricLimit,
			want:   map[string]float64{"keel.name=db": 10},
		},
		{
			name: "limiter in flight from the last event",
			events: []keel.Event{
				limitEv(keel.EventAcquired, 1, "", ""), limitEv(keel.EventAcquired, 2, "", ""),
				limitEv(keel.EventRejected, 2, "", ""), limitEv(keel.EventReleased, 1, "", ""),
			},
			metric: telemetry.MetricLimitInFlight,
			want:   map[string]float64{"keel.name=db": 1},
		},
		{
			name:   "limit changes are not breaker transitions",
			events: []keel.Event{limitEv(keel.EventStateChange, 3, "20", "21")},
			metric: telemetry.MetricTransitions,
			want:   map[string]float64{},
		},
		{
			name:   "limiters are not bulkheads",
			events: []keel.Event{limitEv(keel.EventAcquired, 2, "", "")},
			metric: telemetry.MetricInFlight,
			want:   map[string]float64{},
		},
	}
	modes(t, func(t *testing.T, local bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m, r := newMetricsMode(t, local)
				for _, e := range tt.events {
					m.Observe(ctx, e)
				}
				got := map[string]float64{}
				if data, ok := collect(t, r)[tt.metric]; ok {
					got = points(t, data)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s points (-want +got):\n%s", tt.metric, diff)
				}
			})
		}
	})
}

func TestMetricsRegisteredLimiter(t *testing.T) {
	m, r := newMetrics(t)
	l := limit.MustNew(limit.Config{Name: "db", InitialLimit: 7, Observer: m})
	unregister := m.RegisterLimiter("db", l)
	p, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, r)
	if diff := cmp.Diff(map[string]float64{"keel.name=db": 7}, points(t, got[telemetry.MetricLimit])); diff != "" {
		t.Errorf("limit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"keel.name=db": 1}, points(t, got[telemetry.MetricLimitInFlight])); diff != "" {
		t.Errorf("in flight (-want +got):\n%s", diff)
	}
	p.Done(keel.OutcomeNeutral)
	unregister()
	unregister()
	// Unregistered, the gauge falls back to the last event: the release.
	got = collect(t, r)
	if diff := cmp.Diff(map[string]float64{"keel.name=db": 0}, points(t, got[telemetry.MetricLimitInFlight])); diff != "" {
		t.Errorf("in flight after unregister (-want +got):\n%s", diff)
	}
}

// TestMetricsFromPolicies feeds the metrics from a real shedder and a real
// hedge policy.
func TestMetricsFromPolicies(t *testing.T) {
	m, r := newMetrics(t)
	ctx := context.Background()
	s := shed.MustNew(shed.Config{Name: "api", Capacity: 2, Observer: m})
	t1, err := s.AdmitClass(ctx, shed.Critical)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []shed.Criticality{shed.Sheddable, shed.Sheddable, shed.Default, shed.Critical} {
		if tk, err := s.AdmitClass(ctx, c); err == nil {
			tk.Done()
		}
	}
	t1.Done()

	h := hedge.MustNew(hedge.Config{Name: "search", Delay: time.Millisecond, DisableBudget: true, Observer: m})
	err = h.Do(ctx, func(ctx context.Context) error {
		if hedge.Attempt(ctx) == 1 {
			<-ctx.Done() // the first attempt waits until the hedge wins
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, r)
	for _, tc := range []struct {
		metric string
		want   map[string]float64
	}{
		// With one critical request in flight of a capacity of 2, sheddable
		// (limit 1) and default (limit 1) are refused; critical is not.
		{telemetry.MetricShed, map[string]float64{
			"keel.criticality=sheddable,keel.name=api": 2,
			"keel.criticality=default,keel.name=api":   1,
		}},
		{telemetry.MetricHedges, map[string]float64{"keel.name=search": 1}},
		{telemetry.MetricHedgeWins, map[string]float64{"keel.name=search": 1}},
	} {
		if diff := cmp.Diff(tc.want, points(t, got[tc.metric])); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.metric, diff)
		}
	}
}

func TestMetricsObserveOverloadAllocs(t *testing.T) {
	modes(t, func(t *testing.T, local bool) {
		m, _ := newMetricsMode(t, local)
		ctx := context.Background()
		events := []keel.Event{
			{Kind: keel.EventRejected, Policy: "shed", Name: "api", Reason: keel.ReasonLimit, Err: &shed.RejectedError{Criticality: shed.Sheddable}},
			{Kind: keel.EventRetry, Policy: "hedge", Name: "search", Attempt: 2},
			{Kind: keel.EventSuccess, Policy: "hedge", Name: "search", Attempt: 2},
			{Kind: keel.EventRejected, Policy: "hedge", Name: "search", Reason: keel.ReasonBudget},
			{Kind: keel.EventAcquired, Policy: "limit", Name: "db", InFlight: 3},
			{Kind: keel.EventStateChange, Policy: "limit", Name: "db", From: "20", To: "21"},
		}
		for _, e := range events {
			m.Observe(ctx, e)
		}
		for _, e := range events {
			if got := testing.AllocsPerRun(100, func() { m.Observe(ctx, e) }); got != 0 {
				t.Errorf("Observe(%v of %s): got %v allocs, want 0", e.Kind, e.Policy, got)
			}
		}
	})
}

// overloadScrapeWorkload runs a shedder, an adaptive limiter and a hedge
// policy observed by m, for the golden scrape. It runs inside the scrape's
// synctest bubble.
func overloadScrapeWorkload(t *testing.T, m *telemetry.Metrics) {
	t.Helper()
	ctx := context.Background()
	s := shed.MustNew(shed.Config{Name: "checkout", Capacity: 2, Observer: m})
	l := limit.MustNew(limit.Config{Name: "checkout", InitialLimit: 4, Observer: m})
	m.RegisterLimiter("checkout", l)
	held, err := s.AdmitClass(ctx, shed.Critical)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []shed.Criticality{shed.Sheddable, shed.Default, shed.Critical} {
		if err := keel.Chain(s, l).Do(shed.WithCriticality(ctx, c), func(context.Context) error { return nil }); err != nil && c == shed.Critical {
			t.Fatalf("critical request: %v", err)
		}
	}
	held.Done()

	h := hedge.MustNew(hedge.Config{Name: "search", Delay: 10 * time.Millisecond, DisableBudget: true, Observer: m})
	for i := range 3 {
		_ = h.Do(ctx, func(ctx context.Context) error {
			d := time.Millisecond
			if i == 0 && hedge.Attempt(ctx) == 1 {
				d = time.Second // slow: the hedge wins
			}
			tm := time.NewTimer(d)
			defer tm.Stop()
			select {
			case <-tm.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
}

func ExampleMetrics_RegisterLimiter() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
	l := limit.MustNew(limit.Config{Name: "db", InitialLimit: 16, Observer: m})
	unregister := m.RegisterLimiter("db", l)
	defer unregister()

	p, _ := l.Acquire(context.Background())
	defer p.Done(keel.OutcomeSuccess)

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if g, ok := metric.Data.(metricdata.Gauge[int64]); ok && strings.HasPrefix(metric.Name, "keel.limit.") {
				fmt.Println(metric.Name, g.DataPoints[0].Value)
			}
		}
	}
	// Unordered output:
	// keel.limit.current 16
	// keel.limit.in_flight 1
}

// Example_shed counts the requests a shedder refused, by criticality.
func Example_shed() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
	s := shed.MustNew(shed.Config{Name: "api", Capacity: 2, Observer: m})
	held, _ := s.AdmitClass(context.Background(), shed.Critical) // one of two places taken
	defer held.Done()
	for _, c := range []shed.Criticality{shed.Sheddable, shed.Sheddable, shed.Critical} {
		if t, err := s.AdmitClass(context.Background(), c); err == nil {
			t.Done()
		}
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if sum, ok := metric.Data.(metricdata.Sum[int64]); ok && metric.Name == telemetry.MetricShed {
				for _, dp := range sum.DataPoints {
					c, _ := dp.Attributes.Value(telemetry.AttrCriticality)
					fmt.Println(metric.Name, c.AsString(), dp.Value)
				}
			}
		}
	}
	// Output:
	// keel.shed sheddable 2
}
