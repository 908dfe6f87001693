package breaker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/keelhq/keel"
)

// WindowType selects how the closed breaker remembers recent calls.
type WindowType uint8

const (
	// CountBased keeps the outcomes of the last WindowSize calls.
	CountBased WindowType = iota
	// TimeBased keeps the outcomes of the calls of the last WindowSize
	// seconds, in one-second buckets aligned to the Unix epoch.
	TimeBased
)

// String returns "count" or "time".
func (t WindowType) String() string {
	switch t {
	case CountBased:
		return "count"
	case TimeBased:
		return "time"
	}
	return "unknown"
}

// Defaults applied to zero Config fields.
const (
	DefaultCountWindowSize      = 100
	DefaultTimeWindowSize       = 60 // seconds
	DefaultFailureRateThreshold = 50 // percent
	DefaultMinimumCalls         = 20
	DefaultOpenDuration         = 30 * time.Second
	DefaultHalfOpenPermits      = 5
	// DefaultMaxOpenDurationFactor bounds a growing open duration when
	// MaxOpenDuration is zero: the cap is this many times OpenDuration.
	DefaultMaxOpenDurationFactor = 10
)

// Upper bounds that Validate enforces.
const (
	MaxCountWindowSize = 1 << 20
	MaxTimeWindowSize  = 3600 // seconds
)

// Config configures a [Breaker]. The zero Config is valid: a count-based
// breaker over the last 100 calls that opens for 30 seconds when at least half
// of at least 20 calls failed, then lets 5 concurrent probes through and closes
// after 5 successful ones.
//
// Every field's zero value means its documented default. Config is a plain
// value; the same struct is filled from YAML by the gateway.
type Config struct {
	// Name identifies the breaker in events and errors. It may be empty.
	Name string

	// WindowType is CountBased (the zero value) or TimeBased.
	WindowType WindowType
	// WindowSize is the length of the closed-state window: the last
	// WindowSize calls for a count window (zero means 100, at most 1<<20), or
	// the last WindowSize seconds for a time window (zero means 60, at most
	// 3600), kept in one-second buckets. A time window at second s covers the
	// buckets s-WindowSize+1 … s, so it spans between WindowSize-1 and
	// WindowSize seconds.
	WindowSize int

	// FailureRateThreshold is the failure rate, in percent (0 < x ≤ 100),
	// at or above which the closed breaker opens. Zero means 50.
	FailureRateThreshold float64
	// MinimumCalls is how many calls the window must hold before the breaker
	// decides anything; below it the breaker never opens. Zero means 20. For
	// a count window it is capped at WindowSize.
	MinimumCalls int

	// SlowCallDuration is the run time at or above which a call counts as
	// slow, whether it succeeded or failed. Zero turns slow-call detection
	// off: no clock is read for it and no call is slow.
	SlowCallDuration time.Duration
	// SlowCallRateThreshold is the slow-call rate, in percent (0 < x ≤ 100),
	// at or above which the closed breaker opens. Zero means 100, and 100
	// turns the slow-call rule off: slow calls are still counted in Metrics
	// but never open the breaker. Set it below 100 (and SlowCallDuration above
	// zero) to enable the rule.
	SlowCallRateThreshold float64

	// OpenDuration is how long the breaker stays open before it lets probes
	// through. Zero means 30 seconds.
	OpenDuration time.Duration
	// OpenDurationMultiplier, when above 1, lengthens each consecutive opening
	// (one that follows a failed half-open probe without the breaker closing
	// in between): the n-th consecutive opening lasts
	// OpenDuration × OpenDurationMultiplier^(n-1), capped at MaxOpenDuration.
	// Zero and 1 mean every opening lasts OpenDuration.
	OpenDurationMultiplier float64
	// MaxOpenDuration caps a growing open duration. Zero means
	// 10 × OpenDuration. It must not be below OpenDuration.
	MaxOpenDuration time.Duration
	// OpenJitter spreads open durations so that breakers opened together do
	// not probe together: each opening lasts d × (1 - J + 2·J·r) for a random
	// r in [0, 1), where d is the (capped) open duration, so it lies in
	// [d·(1-J), d·(1+J)). It must be in [0, 1); zero means no jitter.
	OpenJitter float64
	// Rand supplies the randomness for OpenJitter. Nil means the
	// math/rand/v2 top-level functions. The breaker calls it only while
	// holding its own lock, so one Rand must not be shared between breakers
	// (a Group derives one per breaker from it).
	Rand *rand.Rand

	// HalfOpenPermits is how many probe calls may run at once in the
	// half-open state; further calls are rejected with ReasonHalfOpenFull.
	// Zero means 5.
	HalfOpenPermits int
	// SuccessesToClose is how many probes must succeed (and, with the
	// slow-call rule on, not be slow) for the half-open breaker to close. It
	// may exceed HalfOpenPermits: permits are reused as probes finish. Zero
	// means HalfOpenPermits. A single failed probe (or slow probe, with the
	// slow-call rule on) reopens the breaker.
	SuccessesToClose int

	// HalfOpenMaxWait bounds how long the breaker stays half-open. If it has
	// not closed that long after it became half-open, it opens again, as if a
	// probe had failed, so probes that never report (a permit from Allow
	// that is never given to Done) cannot keep it half-open forever. Zero
	// means no bound, as in resilience4j; set it above the longest probe you
	// expect when using the two-step API.
	HalfOpenMaxWait time.Duration

	// Classifier judges each call's error. Nil means keel.DefaultClassifier.
	// OutcomeFailure and OutcomePermanent count as failures, OutcomeSuccess as
	// a success; OutcomeNeutral (the caller's own cancellation) is ignored:
	// the permit is released and nothing is counted.
	Classifier keel.Classifier
	// Observer receives the breaker's events. Nil means no events are built.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, or nil. Zero values are
// valid: they select the defaults.
func (c Config) Validate() error {
	switch c.WindowType {
	case CountBased:
		if c.WindowSize < 0 || c.WindowSize > MaxCountWindowSize {
			return fmt.Errorf("breaker: WindowSize %d out of range [0, %d] for a count window", c.WindowSize, MaxCountWindowSize)
		}
	case TimeBased:
		if c.WindowSize < 0 || c.WindowSize > MaxTimeWindowSize {
			return fmt.Errorf("breaker: WindowSize %d out of range [0, %d] seconds for a time window", c.WindowSize, MaxTimeWindowSize)
		}
	default:
		return fmt.Errorf("breaker: unknown WindowType %d", c.WindowType)
	}
	if err := percent("FailureRateThreshold", c.FailureRateThreshold); err != nil {
		return err
	}
	if err := percent("SlowCallRateThreshold", c.SlowCallRateThreshold); err != nil {
		return err
	}
	if c.MinimumCalls < 0 {
		return fmt.Errorf("breaker: MinimumCalls %d is negative", c.MinimumCalls)
	}
	if c.SlowCallDuration < 0 {
		return fmt.Errorf("breaker: SlowCallDuration %v is negative", c.SlowCallDuration)
	}
	if c.OpenDuration < 0 {
		return fmt.Errorf("breaker: OpenDuration %v is negative", c.OpenDuration)
	}
	if m := c.OpenDurationMultiplier; math.IsNaN(m) || math.IsInf(m, 0) || m < 0 || (m > 0 && m < 1) {
		return fmt.Errorf("breaker: OpenDurationMultiplier %v must be 0 or a finite value ≥ 1", m)
	}
	if c.MaxOpenDuration < 0 {
		return fmt.Errorf("breaker: MaxOpenDuration %v is negative", c.MaxOpenDuration)
	}
	if c.MaxOpenDuration > 0 && c.MaxOpenDuration < c.openDuration() {
		return fmt.Errorf("breaker: MaxOpenDuration %v is below OpenDuration %v", c.MaxOpenDuration, c.openDuration())
	}
	if j := c.OpenJitter; math.IsNaN(j) || j < 0 || j >= 1 {
		return fmt.Errorf("breaker: OpenJitter %v out of range [0, 1)", j)
	}
	if c.HalfOpenPermits < 0 {
		return fmt.Errorf("breaker: HalfOpenPermits %d is negative", c.HalfOpenPermits)
	}
	if c.HalfOpenMaxWait < 0 {
		return fmt.Errorf("breaker: HalfOpenMaxWait %v is negative", c.HalfOpenMaxWait)
	}
	if c.SuccessesToClose < 0 {
		return fmt.Errorf("breaker: SuccessesToClose %d is negative", c.SuccessesToClose)
	}
	return nil
}

func percent(field string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 100 {
		return fmt.Errorf("breaker: %s %v out of range (0, 100] percent", field, v)
	}
	return nil
}

func (c Config) openDuration() time.Duration {
	if c.OpenDuration == 0 {
		return DefaultOpenDuration
	}
	return c.OpenDuration
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.WindowSize == 0 {
		c.WindowSize = DefaultCountWindowSize
		if c.WindowType == TimeBased {
			c.WindowSize = DefaultTimeWindowSize
		}
	}
	if c.FailureRateThreshold == 0 {
		c.FailureRateThreshold = DefaultFailureRateThreshold
	}
	if c.MinimumCalls == 0 {
		c.MinimumCalls = DefaultMinimumCalls
	}
	if c.WindowType == CountBased && c.MinimumCalls > c.WindowSize {
		c.MinimumCalls = c.WindowSize
	}
	if c.SlowCallRateThreshold == 0 {
		c.SlowCallRateThreshold = 100
	}
	c.OpenDuration = c.openDuration()
	if c.OpenDurationMultiplier == 0 {
		c.OpenDurationMultiplier = 1
	}
	if c.MaxOpenDuration == 0 {
		c.MaxOpenDuration = satMul(c.OpenDuration, DefaultMaxOpenDurationFactor)
	}
	if c.HalfOpenPermits == 0 {
		c.HalfOpenPermits = DefaultHalfOpenPermits
	}
	if c.SuccessesToClose == 0 {
		c.SuccessesToClose = c.HalfOpenPermits
	}
	return c
}

// satMul returns d × f, saturating at the largest Duration.
func satMul(d time.Duration, f float64) time.Duration {
	v := float64(d) * f
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(v)
}
