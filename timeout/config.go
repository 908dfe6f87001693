package timeout

import (
	"fmt"
	"time"

	"github.com/keelhq/keel"
)

// Config configures a [Policy]. Timeout is required.
type Config struct {
	// Name identifies the policy in errors and events. Optional.
	Name string

	// Timeout is how long an operation may run. It must be positive.
	Timeout time.Duration

	// ReturnOnTime makes the Policy return at the deadline even when the
	// operation ignores its context, leaving it to finish on its own
	// goroutine. The default, false, is cooperative: the operation runs on
	// the caller's goroutine and the Policy returns when it does.
	ReturnOnTime bool

	// Observer receives the policy's events (EventTimeout, EventAbandoned,
	// EventAbandonedExit). Optional; with none, no event is built.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, or nil.
func (c Config) Validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("timeout: Config.Timeout must be > 0, got %v", c.Timeout)
	}
	return nil
}
