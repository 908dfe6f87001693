package shed

import (
	"errors"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// ErrShed is matched (through errors.Is) by the error of every request a
// Shedder refused.
var ErrShed = errors.New("shed: request shed")

// RejectedError is the error of a refused request. It matches ErrShed and
// keel.ErrRejected, and implements keel.RetryAfterError.
type RejectedError struct {
	// Name is the shedder's Config.Name.
	Name string
	// Criticality is the refused request's class.
	Criticality Criticality
	// InFlight is how many requests were in flight when it was refused.
	InFlight int
	// Limit is the class's threshold: requests of the class are admitted only
	// while fewer than Limit are in flight.
	Limit int
	// After is the retry hint (Config.RetryAfter).
	After time.Duration
}

// Error describes the rejection.
func (e *RejectedError) Error() string {
	s := "shed"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	return s + ": request shed: " + e.Criticality.String() + " requests admitted below " +
		strconv.Itoa(e.Limit) + " in flight, " + strconv.Itoa(e.InFlight) + " in flight"
}

// Is reports whether target is ErrShed or keel.ErrRejected.
func (e *RejectedError) Is(target error) bool { return target == ErrShed || target == keel.ErrRejected }

// RetryAfter returns After.
func (e *RejectedError) RetryAfter() time.Duration { return e.After }
