package shed

import (
	"fmt"
	"math"
	"time"

	"github.com/keelhq/keel"
)

// Defaults applied by New to zero fields of a Config.
const (
	DefaultCapacity       = 100
	DefaultSheddableShare = 0.5
	DefaultDefaultShare   = 0.8
	DefaultRetryAfter     = time.Second
)

// Config configures a Shedder. The zero value is valid: a capacity of 100
// requests in flight, sheddable requests admitted below 50 of them, default
// ones below 80, critical ones up to 100, and a one-second retry hint.
type Config struct {
	// Name names the shedder in events and errors. It may be "".
	Name string
	// Capacity is the most requests in flight at once; critical requests are
	// admitted until it is reached. Zero means 100. It must not be negative.
	Capacity int
	// SheddableShare is the share of Capacity open to sheddable requests: one
	// is admitted only while fewer than floor(SheddableShare × Capacity)
	// requests (of any class) are in flight, but at least 1. Zero means 0.5.
	// It must be in (0, 1] and not above DefaultShare.
	SheddableShare float64
	// DefaultShare is the same for requests of class Default. Zero means 0.8.
	// It must be in (0, 1].
	DefaultShare float64
	// RetryAfter is the retry hint of every rejection (keel.RetryAfter). Zero
	// means one second. It must not be negative.
	RetryAfter time.Duration
	// Observer receives an EventRejected for every shed request. Nil means
	// no events.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, by name.
func (c Config) Validate() error {
	if c.Capacity < 0 {
		return fmt.Errorf("shed: Config.Capacity must be >= 0 (0 means %d), got %d", DefaultCapacity, c.Capacity)
	}
	if !validShare(c.SheddableShare) {
		return fmt.Errorf("shed: Config.SheddableShare must be in (0, 1] (0 means %v), got %v", DefaultSheddableShare, c.SheddableShare)
	}
	if !validShare(c.DefaultShare) {
		return fmt.Errorf("shed: Config.DefaultShare must be in (0, 1] (0 means %v), got %v", DefaultDefaultShare, c.DefaultShare)
	}
	c = c.withDefaults()
	if c.SheddableShare > c.DefaultShare {
		return fmt.Errorf("shed: Config.SheddableShare (%v) must not exceed Config.DefaultShare (%v)", c.SheddableShare, c.DefaultShare)
	}
	if c.RetryAfter < 0 {
		return fmt.Errorf("shed: Config.RetryAfter must be >= 0 (0 means %v), got %v", DefaultRetryAfter, c.RetryAfter)
	}
	return nil
}

// validShare accepts 0 (the default) and (0, 1].
func validShare(f float64) bool {
	return !math.IsNaN(f) && f >= 0 && f <= 1
}

func (c Config) withDefaults() Config {
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if c.SheddableShare == 0 {
		c.SheddableShare = DefaultSheddableShare
	}
	if c.DefaultShare == 0 {
		c.DefaultShare = DefaultDefaultShare
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	return c
}

// threshold is the in-flight count below which a class with share f is
// admitted: floor(f × capacity), at least 1.
func threshold(f float64, capacity int) int {
	n := int(math.Floor(f * float64(capacity)))
	return max(1, min(n, capacity))
}
