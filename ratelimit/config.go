package ratelimit

import (
	"fmt"
	"math"
	"time"

	"github.com/keelhq/keel"
)

// Config configures a [Limiter]. The zero value is not valid: Rate is
// required.
type Config struct {
	// Rate is how many tokens the bucket earns per second. Required: it must be
	// greater than zero (fractions are fine: 0.5 is one token every two seconds)
	// and at least 1e-9. math.Inf(1), or any rate above 1e9, never limits.
	Rate float64
	// Burst is how many tokens the bucket holds when full: how many calls may
	// run at once after a quiet spell. Zero means max(1, ceil(Rate)). Negative
	// is invalid.
	Burst int
	// MaxWait is how long Wait and Do may wait for a token. Zero means never
	// wait: reject at once when the bucket is empty. A call never waits past its
	// context's deadline either. Negative is invalid.
	MaxWait time.Duration
	// Name identifies the limiter in events and errors. Optional.
	Name string
	// Observer receives the limiter's events. Nil means none are built.
	Observer keel.Observer
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	switch {
	case math.IsNaN(c.Rate) || c.Rate <= 0:
		return fmt.Errorf("ratelimit: Config.Rate must be greater than 0, got %v", c.Rate)
	case c.Rate < 1e-9:
		return fmt.Errorf("ratelimit: Config.Rate must be at least 1e-9 per second, got %v", c.Rate)
	case c.Burst < 0:
		return fmt.Errorf("ratelimit: Config.Burst must not be negative, got %d", c.Burst)
	case c.MaxWait < 0:
		return fmt.Errorf("ratelimit: Config.MaxWait must not be negative, got %v", c.MaxWait)
	}
	s := c.withDefaults()
	if s.Rate <= 1e9 && float64(s.Burst)*math.Ceil(float64(time.Second)/s.Rate) > math.MaxInt64/2 {
		return fmt.Errorf("ratelimit: Config.Burst %d at Config.Rate %v spans more than 146 years", s.Burst, s.Rate)
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Burst == 0 {
		c.Burst = 1
		if c.Rate > 1 && c.Rate <= 1e9 {
			c.Burst = int(math.Ceil(c.Rate))
		}
	}
	return c
}
