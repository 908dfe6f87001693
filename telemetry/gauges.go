package telemetry

import (
	"context"

	"github.com/keelhq/keel/breaker"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// BreakerSource is what [Metrics.RegisterBreaker] needs of a circuit breaker.
// *breaker.Breaker implements it.
type BreakerSource interface {
	Name() string
	State() breaker.State
}

// BulkheadSource is what [Metrics.RegisterBulkhead] needs of a bulkhead.
// *bulkhead.Bulkhead implements it.
type BulkheadSource interface {
	InFlight() int
	Queued() int
}

// LimiterSource is what [Metrics.RegisterLimiter] needs of an adaptive
// concurrency limiter. *limit.Limiter implements it.
type LimiterSource interface {
	Limit() int
	InFlight() int
}

type limiterEntry struct {
	name string
	src  LimiterSource
	opts []metric.ObserveOption // keel.name
}

type breakerEntry struct {
	src    BreakerSource
	states [numStates][]metric.ObserveOption // keel.name, keel.state
}

type bulkheadEntry struct {
	name string
	src  BulkheadSource
	opts []metric.ObserveOption // keel.name
}

// RegisterBreaker reports b's state in the keel.breaker.state gauge from the
// next collection on, before any transition: the callback reads b.State()
// at each collection (which, for an open breaker whose open time has passed,
// moves it to half-open and emits that EventStateChange). It returns a
// function that removes b again; calling it more than once is harmless.
//
// Breakers that are not registered appear in the gauge after their first
// EventStateChange reaches this observer.
func (m *Metrics) RegisterBreaker(b BreakerSource) (unregister func()) {
	e := &breakerEntry{src: b}
	for st := range breaker.State(numStates) {
		e.states[st] = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(
			AttrName.String(b.Name()), AttrState.String(st.String())))}
	}
	m.mu.Lock()
	id := m.nextID
	m.nextID++
	m.breakers[id] = e
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.breakers, id)
		m.mu.Unlock()
	}
}

// RegisterBulkhead reports b's InFlight and Queued in the keel.bulkhead.in_flight
// and keel.bulkhead.queued gauges under keel.name=name, read at each
// collection. It returns a function that removes b again.
//
// Bulkheads that are not registered appear in the gauges with the occupancy
// of their last event that reached this observer.
func (m *Metrics) RegisterBulkhead(name string, b BulkheadSource) (unregister func()) {
	e := &bulkheadEntry{name: name, src: b, opts: []metric.ObserveOption{
		metric.WithAttributeSet(attribute.NewSet(AttrName.String(name)))}}
	m.mu.Lock()
	id := m.nextID
	m.nextID++
	m.bulkheads[id] = e
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.bulkheads, id)
		m.mu.Unlock()
	}
}

// RegisterLimiter reports l's Limit and InFlight in the keel.limit.current
// and keel.limit.in_flight gauges under keel.name=name, read at each
// collection. It returns a function that removes l again; calling it more
// than once is harmless.
//
// Limiters that are not registered appear in the gauges with the limit of
// their last limit change and the occupancy of their last event that
// reached this observer (a limiter whose limit never moved has no
// keel.limit.current series until it is registered).
func (m *Metrics) RegisterLimiter(name string, l LimiterSource) (unregister func()) {
	e := &limiterEntry{name: name, src: l, opts: []metric.ObserveOption{
		metric.WithAttributeSet(attribute.NewSet(AttrName.String(name)))}}
	m.mu.Lock()
	id := m.nextID
	m.nextID++
	m.limiters[id] = e
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.limiters, id)
		m.mu.Unlock()
	}
}

// observeGauges is the callback of the observable gauges. It copies the
// registrations under the lock and reads the sources outside it: State may
// emit an event to user code.
func (m *Metrics) observeGauges(_ context.Context, o metric.Observer) error {
	m.mu.Lock()
	breakers := make([]*breakerEntry, 0, len(m.breakers))
	for _, e := range m.breakers {
		breakers = append(breakers, e)
	}
	bulkheads := make([]*bulkheadEntry, 0, len(m.bulkheads))
	for _, e := range m.bulkheads {
		bulkheads = append(bulkheads, e)
	}
	limiters := make([]*limiterEntry, 0, len(m.limiters))
	for _, e := range m.limiters {
		limiters = append(limiters, e)
	}
	m.mu.Unlock()

	seenLimiter := make(map[string]bool, len(limiters))
	for _, e := range limiters {
		seenLimiter[e.name] = true
		o.ObserveInt64(m.limitCurrent, int64(e.src.Limit()), e.opts...)
		o.ObserveInt64(m.limitInFlight, int64(e.src.InFlight()), e.opts...)
	}

	seenBreaker := make(map[string]bool, len(breakers))
	for _, e := range breakers {
		cur := e.src.State()
		seenBreaker[e.src.Name()] = true
		for st := range breaker.State(numStates) {
			o.ObserveInt64(m.breakerState, b2i(st == cur), e.states[st]...)
		}
	}
	seenBulkhead := make(map[string]bool, len(bulkheads))
	for _, e := range bulkheads {
		seenBulkhead[e.name] = true
		o.ObserveInt64(m.inFlight, int64(e.src.InFlight()), e.opts...)
		o.ObserveInt64(m.queued, int64(e.src.Queued()), e.opts...)
	}
	m.series.each(func(k seriesKey, s *series) {
		if v := s.state.Load(); v > 0 && int(v) <= numStates && k.policy == "breaker" && !seenBreaker[k.name] {
			cur := allStates[v-1]
			for st := range breaker.State(numStates) {
				o.ObserveInt64(m.breakerState, b2i(st == cur), metric.WithAttributes(
					AttrName.String(k.name), AttrState.String(st.String())))
			}
		}
		if s.kind == kindLimit && !seenLimiter[k.name] {
			opts := metric.WithAttributes(AttrName.String(k.name))
			if s.limitSeen.Load() {
				o.ObserveInt64(m.limitCurrent, s.limit.Load(), opts)
			}
			if s.limitOccSeen.Load() {
				o.ObserveInt64(m.limitInFlight, s.limitInFlight.Load(), opts)
			}
		}
		if s.seenOccupancy.Load() && !seenBulkhead[k.name] {
			opts := metric.WithAttributes(AttrName.String(k.name))
			o.ObserveInt64(m.inFlight, s.inFlight.Load(), opts)
			o.ObserveInt64(m.queued, s.queued.Load(), opts)
		}
	})
	return nil
}

// allStates lists the breaker states by value.
var allStates = func() (out [numStates]breaker.State) {
	for st := range breaker.State(numStates) {
		out[st] = st
	}
	return out
}()

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
