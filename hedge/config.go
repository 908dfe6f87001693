package hedge

import (
	"fmt"
	"math"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/retry"
)

// Defaults applied by New to zero fields of a Config.
const (
	DefaultDelay      = time.Second
	DefaultMaxHedges  = 1
	DefaultWindow     = 100
	DefaultMinSamples = 10
	DefaultMinDelay   = time.Millisecond
	// MaxHedges is the largest Config.MaxHedges accepted.
	MaxHedges = 16
)

// defaultBudget configures the budget a Policy creates for itself when
// Config.Budget is nil (see Config.Budget).
var defaultBudget = retry.BudgetConfig{Ratio: 0.1, TTL: 10 * time.Second, MinPerSecond: 1}

// Config configures a Policy. The zero value is valid: one hedge after a
// fixed second, within a budget of 10% of the calls.
type Config struct {
	// Name names the policy in events. It may be "".
	Name string

	// Delay is how long each attempt runs before the next hedge starts. When
	// Percentile is set it is the delay used until the window holds
	// MinSamples latencies. Zero means one second. It must not be negative.
	Delay time.Duration
	// Percentile, when not zero, makes the delay adaptive: the
	// Percentile-quantile (nearest rank; 0.95 is p95) of the latencies of the
	// last Window successful calls, but at least MinDelay. Zero means the
	// fixed Delay. It must be in [0, 1].
	Percentile float64
	// Window is how many recent successful latencies the adaptive delay is
	// computed from. Zero means 100. It must not be negative.
	Window int
	// MinSamples is how many latencies the window must hold before the
	// percentile replaces Delay. Zero means 10. It must be between 0 and
	// Window.
	MinSamples int
	// MinDelay is the least adaptive delay. Zero means 1ms. It must not be
	// negative.
	MinDelay time.Duration

	// MaxHedges is how many backup attempts a call may start besides the
	// first. Zero means 1; at most 16.
	MaxHedges int

	// Budget caps the extra load: every call deposits one credit and every
	// hedge withdraws one; with no credit the hedge, and every later hedge of
	// that call, is not sent (attempts already running go on). It may be
	// shared. Nil means a budget of the policy's own, unless DisableBudget
	// is set: hedges may add 10% to the calls of the last 10 seconds, plus
	// one per second however few calls there were
	// (retry.BudgetConfig{Ratio: 0.1, TTL: 10 * time.Second, MinPerSecond: 1}).
	Budget *retry.Budget
	// DisableBudget lets every call send all MaxHedges hedges.
	DisableBudget bool

	// Classifier judges each attempt's error. Nil means
	// keel.DefaultClassifier. A success wins; a permanent or neutral outcome
	// ends the call at once; a failure ends it only when no other attempt is
	// running.
	Classifier keel.Classifier
	// Observer receives the policy's events. Nil means no events.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, by name.
func (c Config) Validate() error {
	switch {
	case c.Delay < 0:
		return fmt.Errorf("hedge: Config.Delay must be >= 0 (0 means %v), got %v", DefaultDelay, c.Delay)
	case math.IsNaN(c.Percentile) || c.Percentile < 0 || c.Percentile > 1:
		return fmt.Errorf("hedge: Config.Percentile must be in [0, 1] (0 means a fixed Delay), got %v", c.Percentile)
	case c.Window < 0:
		return fmt.Errorf("hedge: Config.Window must be >= 0 (0 means %d), got %d", DefaultWindow, c.Window)
	case c.MinSamples < 0:
		return fmt.Errorf("hedge: Config.MinSamples must be >= 0 (0 means %d), got %d", DefaultMinSamples, c.MinSamples)
	case c.MinDelay < 0:
		return fmt.Errorf("hedge: Config.MinDelay must be >= 0 (0 means %v), got %v", DefaultMinDelay, c.MinDelay)
	case c.MaxHedges < 0 || c.MaxHedges > MaxHedges:
		return fmt.Errorf("hedge: Config.MaxHedges must be between 0 and %d (0 means %d), got %d", MaxHedges, DefaultMaxHedges, c.MaxHedges)
	}
	d := c.withDefaults()
	if d.MinSamples > d.Window {
		return fmt.Errorf("hedge: Config.MinSamples (%d) must not exceed Config.Window (%d)", d.MinSamples, d.Window)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Delay == 0 {
		c.Delay = DefaultDelay
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MinSamples == 0 {
		c.MinSamples = min(DefaultMinSamples, c.Window)
	}
	if c.MinDelay == 0 {
		c.MinDelay = DefaultMinDelay
	}
	if c.MaxHedges == 0 {
		c.MaxHedges = DefaultMaxHedges
	}
	return c
}
