package limit

import (
	"fmt"
	"time"

	"github.com/keelhq/keel"
)

// Defaults of a Config's zero fields.
const (
	DefaultInitialLimit = 20
	DefaultMinLimit     = 1
	DefaultMaxLimit     = 1000
)

// QueueOrder says which waiting caller gets a permit that comes free.
type QueueOrder uint8

const (
	// FIFO serves the caller that has waited longest (the zero value).
	FIFO QueueOrder = iota
	// LIFO serves the caller that arrived last. Under sustained overload it
	// keeps latency low for the callers it serves, while the oldest ones
	// run out of MaxWait or their deadline.
	LIFO
)

// String returns "fifo" or "lifo".
func (o QueueOrder) String() string {
	switch o {
	case FIFO:
		return "fifo"
	case LIFO:
		return "lifo"
	}
	return "unknown"
}

// Config configures a [Limiter]. The zero Config is valid: AIMD with its
// defaults, limit 20 within [1, 1000], no queue.
type Config struct {
	// Name identifies the limiter in errors and events. Optional.
	Name string

	// Algorithm computes the limit from samples. Nil means a new &AIMD{}.
	// The value must not be shared with another Limiter. If it has a
	// Validate() error method, Config.Validate calls it.
	Algorithm Algorithm

	// InitialLimit is the limit before the first sample. Zero means
	// DefaultInitialLimit (20), raised to MinLimit or lowered to MaxLimit if
	// outside them; a nonzero value must lie in [MinLimit, MaxLimit].
	InitialLimit int
	// MinLimit is the floor the limit never goes below, whatever the
	// algorithm says. It is not a probe concurrency. Zero means 1.
	MinLimit int
	// MaxLimit is the ceiling. Zero means DefaultMaxLimit (1000).
	MaxLimit int

	// MaxQueue is how many callers may wait for a permit when the limit is
	// reached. Zero means no queue: such a caller is rejected at once.
	MaxQueue int
	// MaxWait is the longest a caller waits in the queue. Zero means as long
	// as its context allows. No effect without a queue.
	MaxWait time.Duration
	// QueueOrder is FIFO (zero) or LIFO.
	QueueOrder QueueOrder

	// Observer receives EventAcquired, EventReleased, EventRejected and
	// EventStateChange (limit changes). Optional; with none, no event is
	// built.
	Observer keel.Observer
	// Classifier classifies the errors of operations run by Do and Wrap.
	// Nil means keel.DefaultClassifier.
	Classifier keel.Classifier
}

func (c Config) bounds() (initial, lo, hi int) {
	lo, hi, initial = c.MinLimit, c.MaxLimit, c.InitialLimit
	if lo == 0 {
		lo = DefaultMinLimit
	}
	if hi == 0 {
		hi = DefaultMaxLimit
	}
	if initial == 0 {
		initial = min(max(DefaultInitialLimit, lo), hi)
	}
	return initial, lo, hi
}

// Validate reports the first invalid field of c, or nil.
func (c Config) Validate() error {
	initial, lo, hi := c.bounds()
	switch {
	case c.MinLimit < 0:
		return fmt.Errorf("limit: Config.MinLimit must be >= 0 (0 means %d), got %d", DefaultMinLimit, c.MinLimit)
	case c.MaxLimit < 0:
		return fmt.Errorf("limit: Config.MaxLimit must be >= 0 (0 means %d), got %d", DefaultMaxLimit, c.MaxLimit)
	case lo > hi:
		return fmt.Errorf("limit: Config.MinLimit (%d) must not exceed Config.MaxLimit (%d)", lo, hi)
	case c.InitialLimit < 0:
		return fmt.Errorf("limit: Config.InitialLimit must be >= 0 (0 means %d), got %d", DefaultInitialLimit, c.InitialLimit)
	case initial < lo || initial > hi:
		return fmt.Errorf("limit: Config.InitialLimit must lie in [MinLimit, MaxLimit] = [%d, %d], got %d", lo, hi, initial)
	case c.MaxQueue < 0:
		return fmt.Errorf("limit: Config.MaxQueue must be >= 0 (0 means no queue), got %d", c.MaxQueue)
	case c.MaxWait < 0:
		return fmt.Errorf("limit: Config.MaxWait must be >= 0 (0 means wait as long as the context allows), got %v", c.MaxWait)
	case c.QueueOrder > LIFO:
		return fmt.Errorf("limit: Config.QueueOrder must be FIFO or LIFO, got %d", c.QueueOrder)
	}
	if v, ok := c.Algorithm.(validator); ok {
		return v.Validate()
	}
	return nil
}
