package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/shed"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// MetricsConfig configures [Metrics]. The zero value is ready to use: it
// records into the global MeterProvider with [DefaultBuckets].
type MetricsConfig struct {
	// MeterProvider provides the meter the instruments are created with.
	// Nil means otel.GetMeterProvider(), the global provider (a no-op one
	// until the program sets another).
	MeterProvider metric.MeterProvider
	// Buckets are the upper bounds, in seconds, of every duration
	// histogram's buckets; they must be finite, positive and strictly
	// increasing. Nil means DefaultBuckets.
	Buckets []float64
	// Histograms, when not nil, aggregates the three duration histograms
	// in process instead of through MeterProvider: several times cheaper per
	// event (see BenchmarkBreakerWithTelemetry), but the histograms then reach
	// a reader only if Histograms was given to it with sdkmetric.WithProducer.
	// [Prometheus.Histograms] is wired so. Nil means the MeterProvider's
	// histograms.
	Histograms *Histograms
}

// Validate reports the first problem with c, naming the field.
func (c *MetricsConfig) Validate() error {
	for i, b := range c.Buckets {
		switch {
		case math.IsNaN(b) || math.IsInf(b, 0):
			return fmt.Errorf("telemetry: MetricsConfig.Buckets[%d] is %v, want a finite number", i, b)
		case b <= 0:
			return fmt.Errorf("telemetry: MetricsConfig.Buckets[%d] is %v, want > 0", i, b)
		case i > 0 && b <= c.Buckets[i-1]:
			return fmt.Errorf("telemetry: MetricsConfig.Buckets[%d] is %v, want > Buckets[%d] (%v)", i, b, i-1, c.Buckets[i-1])
		}
	}
	return nil
}

// Metrics is a keel.Observer that turns events into OpenTelemetry metrics (the
// instruments are listed with the Metric… constants), and reports the state of
// registered breakers and the occupancy of bulkheads as observable gauges.
//
// Recording an event takes no lock and allocates nothing once the policy
// instance (its Policy and Name) has been seen: the attribute sets of each
// instance are built on its first event and kept. Keep policy names few and
// fixed (one per dependency, not per request), as with any metric label.
//
// Use [NewMetrics]; the zero Metrics is not usable. A Metrics is safe for
// concurrent use.
type Metrics struct {
	callDuration    metric.Float64Histogram
	attemptDuration metric.Float64Histogram
	waitDuration    metric.Float64Histogram
	rejections      metric.Int64Counter
	retries         metric.Int64Counter
	exhausted       metric.Int64Counter
	fallbacks       metric.Int64Counter
	timeouts        metric.Int64Counter
	abandoned       metric.Int64Counter
	abandonedNow    metric.Int64UpDownCounter
	transitions     metric.Int64Counter
	replays         metric.Int64Counter
	takeovers       metric.Int64Counter
	leasesLost      metric.Int64Counter
	breakerState    metric.Int64ObservableGauge
	inFlight        metric.Int64ObservableGauge
	queued          metric.Int64ObservableGauge
	limitCurrent    metric.Int64ObservableGauge
	limitInFlight   metric.Int64ObservableGauge
	shed            metric.Int64Counter
	hedges          metric.Int64Counter
	hedgeWins       metric.Int64Counter
	hedgesSupp      metric.Int64Counter

	series seriesMap
	reg    metric.Registration

	mu        sync.Mutex
	nextID    uint64
	breakers  map[uint64]*breakerEntry
	bulkheads map[uint64]*bulkheadEntry
	limiters  map[uint64]*limiterEntry
}

var _ keel.Observer = (*Metrics)(nil)

// NewMetrics creates the instruments with cfg.MeterProvider and returns the
// observer, or the error of cfg.Validate or of the provider.
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	buckets := cfg.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	meter := mp.Meter(ScopeName)
	m := &Metrics{
		breakers:  make(map[uint64]*breakerEntry),
		bulkheads: make(map[uint64]*bulkheadEntry),
		limiters:  make(map[uint64]*limiterEntry),
	}
	var errs []error
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return h
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	if cfg.Histograms == nil {
		m.callDuration = hist(MetricCallDuration, descCallDuration)
		m.attemptDuration = hist(MetricAttemptDuration, descAttemptDuration)
		m.waitDuration = hist(MetricWaitDuration, descWaitDuration)
	}
	m.series.make = func(k seriesKey) *series { return newSeries(k, cfg.Histograms, buckets) }
	m.rejections = counter(MetricRejections, "{call}", "Calls a policy refused to run, by reason.")
	m.retries = counter(MetricRetries, "{retry}", "Retries scheduled.")
	m.exhausted = counter(MetricExhausted, "{call}", "Calls a retry policy gave up on, by reason.")
	m.fallbacks = counter(MetricFallbacks, "{call}", "Errors a fallback replaced.")
	m.timeouts = counter(MetricTimeouts, "{call}", "Timeouts that expired.")
	m.abandoned = counter(MetricAbandoned, "{call}", "Calls a timeout returned from while the operation kept running.")
	m.transitions = counter(MetricTransitions, "{transition}", "Circuit breaker state changes.")
	m.replays = counter(MetricReplays, "{request}", "Requests answered with a stored response instead of running the handler.")
	m.takeovers = counter(MetricTakeovers, "{request}", "Idempotency records taken over after their owner's lease expired.")
	m.leasesLost = counter(MetricLeasesLost, "{request}", "Idempotency handlers whose lease was lost, so their outcome was not stored.")
	var err error
	m.abandonedNow, err = meter.Int64UpDownCounter(MetricAbandonedRunning, metric.WithUnit("{call}"),
		metric.WithDescription("Abandoned operations still running."))
	errs = append(errs, err)
	m.breakerState = gauge(MetricBreakerState, "{state}", "1 for the current state of a circuit breaker, 0 for the others.")
	m.inFlight = gauge(MetricInFlight, "{permit}", "Bulkhead permits held.")
	m.queued = gauge(MetricQueued, "{call}", "Calls waiting for a bulkhead permit.")
	m.limitCurrent = gauge(MetricLimit, "{call}", "Current limit of an adaptive concurrency limiter.")
	m.limitInFlight = gauge(MetricLimitInFlight, "{call}", "Permits an adaptive concurrency limiter holds.")
	m.shed = counter(MetricShed, "{request}", "Requests a load shedder refused, by criticality.")
	m.hedges = counter(MetricHedges, "{request}", "Hedges (backup attempts) sent.")
	m.hedgeWins = counter(MetricHedgeWins, "{call}", "Hedged calls a hedge won rather than the first attempt.")
	m.hedgesSupp = counter(MetricHedgesSuppressed, "{request}", "Hedges the hedge budget refused.")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("telemetry: creating instruments: %w", err)
	}
	m.reg, err = meter.RegisterCallback(m.observeGauges, m.breakerState, m.inFlight, m.queued,
		m.limitCurrent, m.limitInFlight)
	if err != nil {
		return nil, fmt.Errorf("telemetry: registering gauge callback: %w", err)
	}
	return m, nil
}

// MustNewMetrics is like [NewMetrics] but panics on error.
func MustNewMetrics(cfg MetricsConfig) *Metrics {
	m, err := NewMetrics(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// Close unregisters the gauge callback: the gauges stop reporting. Events
// observed afterwards are still recorded. Close is idempotent.
func (m *Metrics) Close() error {
	m.mu.Lock()
	reg := m.reg
	m.reg = nil
	m.mu.Unlock()
	if reg == nil {
		return nil
	}
	return reg.Unregister()
}

// Observe records e. It is called by policies; see the Metric… constants for
// which event feeds which instrument. Kinds with no instrument (EventSuccess
// and EventFailure feed the call histogram; EventReleased only updates the
// occupancy gauges) are ignored.
func (m *Metrics) Observe(ctx context.Context, e keel.Event) {
	s := m.series.get(e.Policy, e.Name)
	switch e.Kind {
	case keel.EventSuccess:
		m.recordCall(ctx, s, keel.OutcomeSuccess, e.Duration)
		if s.kind == kindHedge && e.Attempt > 1 {
			m.hedgeWins.Add(ctx, 1, s.nameAdd...)
		}
	case keel.EventFailure:
		o := e.Outcome
		if o == keel.OutcomeSuccess {
			o = keel.OutcomeFailure
		}
		m.recordCall(ctx, s, o, e.Duration)
	case keel.EventAttempt:
		if s.localAttempt[0] != nil {
			s.localAttempt[outcomeIndex(e.Outcome)].record(e.Duration)
		} else {
			m.attemptDuration.Record(ctx, e.Duration.Seconds(), s.outcomeOpts(e.Outcome)...)
		}
	case keel.EventRetry:
		m.retries.Add(ctx, 1, s.plainAdd...)
		if s.kind == kindHedge {
			m.hedges.Add(ctx, 1, s.nameAdd...)
		}
	case keel.EventExhausted:
		m.exhausted.Add(ctx, 1, s.reasonOpts(e.Reason)...)
	case keel.EventRejected:
		m.rejections.Add(ctx, 1, s.reasonOpts(e.Reason)...)
		switch s.kind {
		case kindShed:
			if re, ok := errors.AsType[*shed.RejectedError](e.Err); ok && re.Criticality.Valid() {
				m.shed.Add(ctx, 1, s.shed[re.Criticality-shed.Sheddable]...)
			}
		case kindHedge:
			if e.Reason == keel.ReasonBudget {
				m.hedgesSupp.Add(ctx, 1, s.nameAdd...)
			}
		}
		s.occupancy(e)
	case keel.EventAcquired:
		if s.localWait != nil {
			s.localWait.record(e.Duration)
		} else {
			m.waitDuration.Record(ctx, e.Duration.Seconds(), s.plainRecord...)
		}
		s.occupancy(e)
	case keel.EventReleased:
		s.occupancy(e)
	case keel.EventTimeout:
		m.timeouts.Add(ctx, 1, s.plainAdd...)
	case keel.EventAbandoned:
		m.abandoned.Add(ctx, 1, s.plainAdd...)
		m.abandonedNow.Add(ctx, 1, s.plainAdd...)
	case keel.EventAbandonedExit:
		m.abandonedNow.Add(ctx, -1, s.plainAdd...)
	case keel.EventFallback:
		m.fallbacks.Add(ctx, 1, s.plainAdd...)
	case keel.EventReplayed:
		m.replays.Add(ctx, 1, s.plainAdd...)
	case keel.EventTakeover:
		m.takeovers.Add(ctx, 1, s.plainAdd...)
	case keel.EventLeaseLost:
		m.leasesLost.Add(ctx, 1, s.plainAdd...)
	case keel.EventStateChange:
		if s.kind == kindLimit {
			// A limiter's From and To are limits: far too many values for
			// the transitions counter's labels.
			if v, err := strconv.Atoi(e.To); err == nil {
				s.limit.Store(int64(v))
				if !s.limitSeen.Load() {
					s.limitSeen.Store(true)
				}
			}
			break
		}
		m.transitions.Add(ctx, 1, s.transition(seriesKey{e.Policy, e.Name}, e.From, e.To)...)
		if st, ok := parseState(e.To); ok {
			s.state.Store(int32(st) + 1)
		}
	}
}

func (m *Metrics) recordCall(ctx context.Context, s *series, o keel.Outcome, d time.Duration) {
	if s.localCall[0] != nil {
		s.localCall[outcomeIndex(o)].record(d)
		return
	}
	m.callDuration.Record(ctx, d.Seconds(), s.outcomeOpts(o)...)
}

func outcomeIndex(o keel.Outcome) int { return min(int(o), numOutcomes-1) }

// Descriptions of the duration histograms.
const (
	descCallDuration    = "Duration of calls guarded by a policy, by outcome."
	descAttemptDuration = "Duration of retry and hedge attempts, by outcome."
	descWaitDuration    = "Time calls waited for a bulkhead or limiter permit before it was granted."
)

// occupancy keeps the bulkhead occupancy an event reports, for the gauges.
func (s *series) occupancy(e keel.Event) {
	if s.kind == kindLimit {
		s.limitInFlight.Store(int64(e.InFlight))
		if !s.limitOccSeen.Load() {
			s.limitOccSeen.Store(true)
		}
		return
	}
	if e.Policy != "bulkhead" {
		return
	}
	s.inFlight.Store(int64(e.InFlight))
	s.queued.Store(int64(e.Queued))
	if !s.seenOccupancy.Load() {
		s.seenOccupancy.Store(true)
	}
}

// numStates is the number of breaker states.
const numStates = int(breaker.MetricsOnly) + 1

func parseState(s string) (breaker.State, bool) {
	for st := range breaker.State(numStates) {
		if st.String() == s {
			return st, true
		}
	}
	return 0, false
}
