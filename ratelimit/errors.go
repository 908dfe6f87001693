package ratelimit

import (
	"errors"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// ErrLimited is the sentinel every rate limit rejection matches.
var ErrLimited = errors.New("ratelimit: rate limit exceeded")

// LimitedError is returned when a call finds no token and may not wait for
// one. It matches [ErrLimited] and keel.ErrRejected through errors.Is, and
// implements keel.RetryAfterError.
type LimitedError struct {
	// Name is the limiter's Config.Name.
	Name string
	// Key is the key of a [Keyed] limiter, "" for a [Limiter].
	Key string
	// Delay is how long after the rejection the next token is due. Another
	// caller may take it first.
	Delay time.Duration
}

// Error describes the rejection.
func (e *LimitedError) Error() string {
	s := "ratelimit: rate limit exceeded"
	if e.Name != "" {
		s += " for " + strconv.Quote(e.Name)
	}
	if e.Key != "" {
		s += " key " + strconv.Quote(e.Key)
	}
	return s + ", retry after " + e.Delay.String()
}

// Is reports whether target is ErrLimited or keel.ErrRejected.
func (e *LimitedError) Is(target error) bool {
	return target == ErrLimited || target == keel.ErrRejected
}

// RetryAfter returns Delay, the time until the next token.
func (e *LimitedError) RetryAfter() time.Duration { return e.Delay }

var _ keel.RetryAfterError = (*LimitedError)(nil)
