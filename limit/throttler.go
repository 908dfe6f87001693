package limit

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/keelhq/keel"
)

// Defaults of a ThrottlerConfig's zero fields.
const (
	DefaultK       = 2.0
	DefaultWindow  = 2 * time.Minute
	DefaultBuckets = 24
)

// ThrottlerConfig configures a [Throttler]. The zero ThrottlerConfig is
// valid: K = 2 over a 2-minute window of 24 buckets.
type ThrottlerConfig struct {
	// Name identifies the throttler in errors and events. Optional.
	Name string
	// K is the accept multiplier: requests are rejected locally once they
	// exceed K times the accepts. Lower is more aggressive. Zero means
	// DefaultK (2); otherwise it must be >= 1.
	K float64
	// Window is the sliding window over which requests and accepts are
	// counted. Zero means DefaultWindow (2 minutes).
	Window time.Duration
	// Buckets is how many slices the window is cut into; the window slides
	// one slice at a time. Zero means DefaultBuckets (24, 5s each with the
	// default window).
	Buckets int
	// Rand returns a uniform number in [0, 1). Nil means
	// math/rand/v2.Float64. It must be safe for concurrent use when the
	// throttler is used concurrently; it is called without any lock held.
	Rand func() float64
	// Observer receives EventRejected (ReasonLimit) for local rejections.
	// Optional; with none, no event is built.
	Observer keel.Observer
	// Classifier classifies the errors of operations run by Do and Wrap.
	// Nil means keel.DefaultClassifier.
	Classifier keel.Classifier
}

// Validate reports the first invalid field of c, or nil.
func (c ThrottlerConfig) Validate() error {
	switch {
	case c.K != 0 && !(c.K >= 1) || math.IsInf(c.K, 0):
		return fmt.Errorf("limit: ThrottlerConfig.K must be >= 1 and finite (0 means %v), got %v", DefaultK, c.K)
	case c.Window < 0:
		return fmt.Errorf("limit: ThrottlerConfig.Window must be >= 0 (0 means %v), got %v", DefaultWindow, c.Window)
	case c.Buckets < 0:
		return fmt.Errorf("limit: ThrottlerConfig.Buckets must be >= 0 (0 means %d), got %d", DefaultBuckets, c.Buckets)
	}
	w, n := c.Window, c.Buckets
	if w == 0 {
		w = DefaultWindow
	}
	if n == 0 {
		n = DefaultBuckets
	}
	if w/time.Duration(n) <= 0 {
		return fmt.Errorf("limit: ThrottlerConfig.Window (%v) must be at least 1ns per bucket (%d buckets)", w, n)
	}
	return nil
}

// Throttler is client-side adaptive throttling (Site Reliability Engineering,
// ch. 21). It counts requests and the backend's accepts over a sliding window
// and rejects a new request locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// Local rejections count as requests, so a throttler facing a backend that
// rejects everything converges to rejecting almost everything itself, and
// recovers as accepts return.
//
// The pure core is [Throttler.AllowAt] (counts a request and decides) and
// [Throttler.AcceptAt] (counts an accept), both taking the time. Do and Wrap
// use them with time.Now(). A Throttler is safe for concurrent use; use
// [NewThrottler], the zero Throttler is not usable.
type Throttler struct {
	name     string
	obs      keel.Observer
	classify keel.Classifier
	k        float64
	rnd      func() float64
	width    int64 // bucket width in ns

	mu       sync.Mutex
	buckets  []bucket // ring, guarded by mu
	inFlight int64    // requests Do let through that have no verdict yet, guarded by mu
}

type bucket struct {
	epoch             int64 // now/width of the slice this bucket counts
	requests, accepts int64
}

// NewThrottler returns a Throttler configured by cfg, or the error of
// cfg.Validate.
func NewThrottler(cfg ThrottlerConfig) (*Throttler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w, n, k := cfg.Window, cfg.Buckets, cfg.K
	if w == 0 {
		w = DefaultWindow
	}
	if n == 0 {
		n = DefaultBuckets
	}
	if k == 0 {
		k = DefaultK
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	b := make([]bucket, n)
	for i := range b {
		b[i].epoch = math.MinInt64
	}
	return &Throttler{
		name: cfg.Name, obs: cfg.Observer, classify: cfg.Classifier,
		k: k, rnd: rnd, width: int64(w / time.Duration(n)), buckets: b,
	}, nil
}

// MustNewThrottler is like NewThrottler but panics if cfg is invalid.
func MustNewThrottler(cfg ThrottlerConfig) *Throttler {
	t, err := NewThrottler(cfg)
	if err != nil {
		panic(err)
	}
	return t
}

// bucketLocked returns the bucket for now, clearing it if it held an older
// slice.
func (t *Throttler) bucketLocked(now time.Time) *bucket {
	e := now.UnixNano() / t.width
	i := int(e % int64(len(t.buckets)))
	if i < 0 {
		i += len(t.buckets) // times before 1970
	}
	b := &t.buckets[i]
	if b.epoch != e {
		*b = bucket{epoch: e}
	}
	return b
}

// countsLocked sums the buckets inside the window ending at now.
func (t *Throttler) countsLocked(now time.Time) (requests, accepts int64) {
	e := now.UnixNano() / t.width
	lo := e - int64(len(t.buckets)) + 1
	for i := range t.buckets {
		if b := &t.buckets[i]; b.epoch >= lo && b.epoch <= e {
			requests += b.requests
			accepts += b.accepts
		}
	}
	return requests, accepts
}

func (t *Throttler) probability(requests, accepts int64) float64 {
	return max(0, (float64(requests)-t.k*float64(accepts))/(float64(requests)+1))
}

// Counts returns the requests and accepts counted in the window ending at
// now.
func (t *Throttler) Counts(now time.Time) (requests, accepts int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.countsLocked(now)
}

// Probability returns the probability with which a request at now would be
// rejected, before that request is counted.
func (t *Throttler) Probability(now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.probability(t.countsLocked(now))
}

// AllowAt counts one request at now and reports whether it may be sent. It
// returns false with the probability given in the Throttler's doc, computed
// before this request is counted; a rejected request still counts. p is that
// probability.
func (t *Throttler) AllowAt(now time.Time) (ok bool, p float64) {
	t.mu.Lock()
	p = t.probability(t.countsLocked(now))
	t.bucketLocked(now).requests++
	t.mu.Unlock()
	if p == 0 {
		return true, 0
	}
	return t.rnd() >= p, p
}

// AcceptAt counts one request the backend accepted (answered, rather than
// refused for overload) at now.
func (t *Throttler) AcceptAt(now time.Time) {
	t.mu.Lock()
	t.bucketLocked(now).accepts++
	t.mu.Unlock()
}

// Do runs op unless the throttler rejects it, in which case it returns a
// [*ThrottledError] without running op. op's error is classified with the
// Classifier: OutcomeSuccess and OutcomePermanent (the backend answered) and
// OutcomeNeutral (the caller gave up; no verdict on the backend) count as
// accepts; OutcomeFailure does not. A panic in op counts as a failure and
// continues.
func (t *Throttler) Do(ctx context.Context, op func(context.Context) error) error {
	return t.run(ctx, nil, op)
}

// Wrap returns a keel.Handler that throttles next as Do throttles op.
func (t *Throttler) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return t.run(ctx, next, op)
	}
}

// admitAt is AllowAt for Do and Wrap, which know when a request they let
// through gets its verdict: requests still in flight are left out of the
// probability, so a burst at start-up (many requests sent, none answered yet)
// is not throttled for want of accepts that simply have not arrived.
func (t *Throttler) admitAt(now time.Time) (ok bool, p float64) {
	t.mu.Lock()
	requests, accepts := t.countsLocked(now)
	p = t.probability(max(0, requests-t.inFlight), accepts)
	t.bucketLocked(now).requests++
	t.inFlight++
	t.mu.Unlock()
	if p == 0 || t.rnd() >= p {
		return true, p
	}
	t.done()
	return false, p
}

// done ends an admitted request's time in flight.
func (t *Throttler) done() {
	t.mu.Lock()
	t.inFlight--
	t.mu.Unlock()
}

func (t *Throttler) run(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	now := time.Now()
	if ok, p := t.admitAt(now); !ok {
		err := &ThrottledError{Name: t.name, Probability: p}
		if t.obs != nil {
			t.obs.Observe(ctx, keel.Event{Kind: keel.EventRejected, Policy: "throttle", Name: t.name, Time: now, Reason: keel.ReasonLimit, Err: err})
		}
		return err
	}
	var err error
	defer func() {
		// A panic has no verdict from the backend: it counts as a request
		// that was not accepted, as a failure does.
		t.done()
	}()
	if next == nil {
		err = op(ctx)
	} else {
		err = next(ctx, op)
	}
	if t.classify.Classify(ctx, err) != keel.OutcomeFailure {
		t.AcceptAt(time.Now())
	}
	return err
}

var (
	_ keel.Policy   = (*Throttler)(nil)
	_ keel.Executor = (*Throttler)(nil)
)
