package retry

import (
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
)

// Defaults applied by [New] to zero fields of a [Config].
const (
	DefaultMaxAttempts   = 3
	DefaultMaxRetryAfter = 30 * time.Second
)

// Config configures a retry [Policy]. Its zero value is a useful policy: 3
// attempts, exponential backoff from 100ms doubling to at most 10s with full
// jitter, retry-after hints honored up to 30s, and a default retry budget.
type Config struct {
	// Name identifies the policy in events (keel.Event.Name). May be empty.
	Name string

	// MaxAttempts is the most attempts a call makes, the first included: 1
	// means no retry. Zero means 3. It must not be negative.
	MaxAttempts int

	// MaxDuration is the time budget of the whole call, attempts and delays
	// included, counted from the call's start. No attempt starts and no delay
	// is slept that would end after it, and each attempt's context gets it as
	// a deadline. Zero means no limit besides the context's deadline. It must
	// not be negative.
	MaxDuration time.Duration

	// Backoff computes the delay before each retry. The zero Schedule means
	// backoff.Default(): 100ms, doubling, capped at 10s, full jitter. Use
	// backoff.Constant(0) to retry at once.
	Backoff backoff.Schedule

	// AttemptTimeout bounds each attempt: the attempt's context gets a
	// deadline AttemptTimeout after the attempt starts (unless the caller's
	// deadline is sooner). An attempt cut off by it, while the caller's
	// context is still live, is a failure and is retried. Zero means no
	// per-attempt limit. It must not be negative.
	AttemptTimeout time.Duration

	// Classifier judges each attempt's error. Only keel.OutcomeFailure is
	// retried; OutcomePermanent and OutcomeNeutral stop at once. It is called
	// with the caller's context, not the attempt's, so an attempt's own
	// timeout is not mistaken for the caller giving up. Nil means
	// keel.DefaultClassifier.
	Classifier keel.Classifier

	// MaxRetryAfter is the longest retry-after hint the policy will wait for.
	// A failed attempt whose error carries a hint (keel.RetryAfter) is retried
	// no sooner than the hint; a hint above MaxRetryAfter ends the call with
	// Reason keel.ReasonRetryAfter instead of retrying early. Zero means 30s.
	// It must not be negative.
	MaxRetryAfter time.Duration

	// Budget limits retries to a share of requests. It may be shared with
	// other policies. Nil means a new default budget for this policy alone,
	// unless DisableBudget is set.
	Budget *Budget

	// DisableBudget turns the retry budget off: every failure may be retried
	// up to MaxAttempts. Budget must then be nil.
	DisableBudget bool

	// Rand is the jitter's random source. Nil means math/rand/v2's global
	// source. A policy used from several goroutines needs a source that is
	// safe for concurrent use (*rand.Rand is not).
	Rand backoff.Rand

	// Observer receives the policy's events. Nil means none are built.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, or nil. Zero fields are
// valid: they mean the documented defaults.
func (c Config) Validate() error {
	switch {
	case c.MaxAttempts < 0:
		return fmt.Errorf("retry: Config.MaxAttempts is negative (%d)", c.MaxAttempts)
	case c.MaxDuration < 0:
		return fmt.Errorf("retry: Config.MaxDuration is negative (%v)", c.MaxDuration)
	case c.AttemptTimeout < 0:
		return fmt.Errorf("retry: Config.AttemptTimeout is negative (%v)", c.AttemptTimeout)
	case c.MaxRetryAfter < 0:
		return fmt.Errorf("retry: Config.MaxRetryAfter is negative (%v)", c.MaxRetryAfter)
	case c.DisableBudget && c.Budget != nil:
		return errors.New("retry: Config.Budget is set but Config.DisableBudget is true")
	}
	return nil
}
