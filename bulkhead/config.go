package bulkhead

import (
	"fmt"
	"time"

	"github.com/keelhq/keel"
)

// DefaultMaxConcurrent is the number of permits of a Bulkhead whose
// Config.MaxConcurrent is zero.
const DefaultMaxConcurrent = 10

// Config configures a [Bulkhead]. The zero Config is valid: 10 permits, no
// queue.
type Config struct {
	// Name identifies the bulkhead in errors and events. Optional.
	Name string

	// MaxConcurrent is the number of permits: how many operations may run at
	// once. Zero means DefaultMaxConcurrent (10). Negative is invalid.
	MaxConcurrent int

	// MaxQueue is how many callers may wait for a permit when all are taken.
	// Zero means no queue: a caller that finds no free permit is rejected at
	// once. Negative is invalid.
	MaxQueue int

	// MaxWait is the longest a caller waits in the queue before it is
	// rejected with ReasonQueueTimeout. Zero means no limit other than the
	// caller's context. Negative is invalid. It has no effect when MaxQueue
	// is zero.
	MaxWait time.Duration

	// Observer receives the bulkhead's events (EventAcquired, EventReleased,
	// EventRejected). Optional; with none, no event is built.
	Observer keel.Observer
}

// Validate reports the first invalid field of c, or nil.
func (c Config) Validate() error {
	switch {
	case c.MaxConcurrent < 0:
		return fmt.Errorf("bulkhead: Config.MaxConcurrent must be >= 0 (0 means %d), got %d", DefaultMaxConcurrent, c.MaxConcurrent)
	case c.MaxQueue < 0:
		return fmt.Errorf("bulkhead: Config.MaxQueue must be >= 0 (0 means no queue), got %d", c.MaxQueue)
	case c.MaxWait < 0:
		return fmt.Errorf("bulkhead: Config.MaxWait must be >= 0 (0 means wait as long as the context allows), got %v", c.MaxWait)
	}
	return nil
}
