package upstream

import (
	"errors"
	"time"

	"github.com/keelhq/keel"
)

// ErrNoHost is matched (through errors.Is) by the error of an attempt for
// which the pool had no host to send to: every host is drained, or none is
// known yet.
var ErrNoHost = errors.New("upstream: no available host")

// NoHostError is the error of an attempt for which the pool had no host.
// It matches ErrNoHost and keel.ErrRejected, and asks callers to wait one
// second before trying again.
type NoHostError struct {
	// Upstream is the pool's Config.Name.
	Upstream string
}

// Error describes the rejection.
func (e *NoHostError) Error() string {
	return "upstream " + quote(e.Upstream) + ": no available host"
}

// Is reports whether target is ErrNoHost or keel.ErrRejected.
func (e *NoHostError) Is(target error) bool {
	return target == ErrNoHost || target == keel.ErrRejected
}

// RetryAfter returns one second.
func (e *NoHostError) RetryAfter() time.Duration { return noHostRetryAfter }

func quote(s string) string { return `"` + s + `"` }
