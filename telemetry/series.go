package telemetry

import (
	"sync"
	"sync/atomic"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/shed"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// numOutcomes is the number of outcome labels: the four keel outcomes and
// "unknown" for any other value.
const numOutcomes = 5

// numReasons bounds the reasons with a precomputed attribute set; larger
// values share the last slot, labeled "unknown".
const numReasons = 16

// seriesKey identifies the policy instance an event came from.
type seriesKey struct{ policy, name string }

// series holds the measurement options of one policy instance, built once so
// that recording an event allocates nothing.
type series struct {
	plainAdd    []metric.AddOption    // keel.policy, keel.name
	plainRecord []metric.RecordOption // keel.policy, keel.name
	outcome     [numOutcomes][]metric.RecordOption
	reason      [numReasons][]metric.AddOption

	// In-process duration histograms, when MetricsConfig.Histograms is set.
	localCall    [numOutcomes]*localHist
	localAttempt [numOutcomes]*localHist
	localWait    *localHist

	// Occupancy and state last reported by events, for the observable
	// gauges of policies nobody registered.
	seenOccupancy atomic.Bool
	inFlight      atomic.Int64
	queued        atomic.Int64
	state         atomic.Int32 // breaker state index + 1; 0: no transition seen

	// Adaptive limiters (policy "limit"): the last limit and occupancy
	// events reported, for limiters nobody registered.
	limitSeen     atomic.Bool
	limit         atomic.Int64
	limitOccSeen  atomic.Bool
	limitInFlight atomic.Int64

	kind    policyKind
	nameAdd []metric.AddOption    // keel.name; policy "hedge" only
	shed    [3][]metric.AddOption // keel.name, keel.criticality (sheddable, default, critical); policy "shed" only

	mu          sync.Mutex // guards writes of transitions
	transitions atomic.Pointer[map[[2]string][]metric.AddOption]
}

func newSeries(k seriesKey, local *Histograms, buckets []float64) *series {
	base := []attribute.KeyValue{AttrPolicy.String(k.policy), AttrName.String(k.name)}
	with := func(kv attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(base[:len(base):len(base)], kv)...)
	}
	plainSet := attribute.NewSet(base...)
	plain := metric.WithAttributeSet(plainSet)
	s := &series{
		plainAdd:    []metric.AddOption{plain},
		plainRecord: []metric.RecordOption{plain},
	}
	for o := range numOutcomes {
		set := with(AttrOutcome.String(keel.Outcome(o).String()))
		s.outcome[o] = []metric.RecordOption{metric.WithAttributeSet(set)}
		if local != nil {
			s.localCall[o] = local.add(MetricCallDuration, descCallDuration, set, buckets)
			s.localAttempt[o] = local.add(MetricAttemptDuration, descAttemptDuration, set, buckets)
		}
	}
	if local != nil {
		s.localWait = local.add(MetricWaitDuration, descWaitDuration, plainSet, buckets)
	}
	for r := range numReasons {
		s.reason[r] = []metric.AddOption{metric.WithAttributeSet(with(AttrReason.String(keel.Reason(r).String())))}
	}
	switch k.policy {
	case "limit":
		s.kind = kindLimit
	case "hedge":
		s.kind = kindHedge
		s.nameAdd = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(AttrName.String(k.name)))}
	case "shed":
		s.kind = kindShed
		for c := shed.Sheddable; c <= shed.Critical; c++ {
			s.shed[c-shed.Sheddable] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
				AttrName.String(k.name), AttrCriticality.String(c.String())))}
		}
	}
	return s
}

// policyKind marks the policies whose events feed instruments of their own.
type policyKind uint8

const (
	kindOther policyKind = iota
	kindLimit
	kindHedge
	kindShed
)

func (s *series) outcomeOpts(o keel.Outcome) []metric.RecordOption {
	return s.outcome[outcomeIndex(o)]
}

func (s *series) reasonOpts(r keel.Reason) []metric.AddOption {
	return s.reason[min(int(r), numReasons-1)]
}

// transition returns the options for a breaker transition, building them the
// first time a pair of states is seen.
func (s *series) transition(key seriesKey, from, to string) []metric.AddOption {
	k := [2]string{from, to}
	if m := s.transitions.Load(); m != nil {
		if opts, ok := (*m)[k]; ok {
			return opts
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.transitions.Load()
	if old != nil {
		if opts, ok := (*old)[k]; ok {
			return opts
		}
	}
	m := make(map[[2]string][]metric.AddOption, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
		AttrPolicy.String(key.policy), AttrName.String(key.name),
		AttrFrom.String(from), AttrTo.String(to),
	))}
	m[k] = opts
	s.transitions.Store(&m)
	return opts
}

func lenOf[K comparable, V any](m *map[K]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// seriesMap is a copy-on-write map from policy instance to its series: reads
// take no lock and allocate nothing; the first event of a new instance copies
// the map under mu.
type seriesMap struct {
	make func(seriesKey) *series
	mu   sync.Mutex
	m    atomic.Pointer[map[seriesKey]*series]
}

func (sm *seriesMap) get(policy, name string) *series {
	k := seriesKey{policy, name}
	if m := sm.m.Load(); m != nil {
		if s, ok := (*m)[k]; ok {
			return s
		}
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	old := sm.m.Load()
	if old != nil {
		if s, ok := (*old)[k]; ok {
			return s
		}
	}
	m := make(map[seriesKey]*series, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	s := sm.make(k)
	m[k] = s
	sm.m.Store(&m)
	return s
}

// each calls f for every series, outside the lock.
func (sm *seriesMap) each(f func(seriesKey, *series)) {
	m := sm.m.Load()
	if m == nil {
		return
	}
	for k, s := range *m {
		f(k, s)
	}
}
