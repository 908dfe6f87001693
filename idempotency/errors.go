package idempotency

import (
	"errors"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// Errors the middleware reports in its events. Each
// is answered with a problem+json response (see the package documentation).
var (
	// ErrKeyMissing: a protected request had no key where one is required.
	// 400.
	ErrKeyMissing = errors.New("idempotency: key missing")
	// ErrKeyInvalid: the key header was malformed. 400. ParseKey returns a
	// *KeyError matching it.
	ErrKeyInvalid = errors.New("idempotency: key invalid")
	// ErrRequestInvalid: the request cannot be fingerprinted: its body is
	// over Config.MaxBodyBytes (413), reading it failed, or its scope could
	// not be determined (400). Nothing is recorded.
	ErrRequestInvalid = errors.New("idempotency: request invalid")
	// ErrKeyReused: the key was used before for a different request (a
	// different fingerprint). 422 unless Config.MismatchStatus says
	// otherwise.
	ErrKeyReused = errors.New("idempotency: key reused for a different request")
	// ErrInProgress: a request with the same key is still being handled
	// under a live lease. 409 with Retry-After. A *ConflictError matches it
	// and keel.ErrRejected.
	ErrInProgress = errors.New("idempotency: request in progress")
	// ErrUnavailable: the store failed. 503 with Retry-After, unless
	// Config.FailOpen. A *StoreError matches it.
	ErrUnavailable = errors.New("idempotency: store unavailable")
)

// KeyError is a malformed Idempotency-Key header. It matches
// [ErrKeyInvalid].
type KeyError struct{ reason error }

// Error says why the key is invalid.
func (e *KeyError) Error() string { return "idempotency: key invalid: " + e.reason.Error() }

// Is reports whether target is ErrKeyInvalid.
func (e *KeyError) Is(target error) bool { return target == ErrKeyInvalid }

// ConflictError is the refusal of a request whose key is held by another
// request under a live lease. It matches [ErrInProgress] and keel.ErrRejected,
// and carries when the lease ends.
type ConflictError struct {
	// KeyHash identifies the key without revealing it: the first 16 hex
	// digits of SHA-256(scope, key).
	KeyHash string
	// Remaining is how long the holder's lease still runs.
	Remaining time.Duration
}

// Error names the key by its hash and says when the lease ends.
func (e *ConflictError) Error() string {
	return "idempotency: request in progress (key " + e.KeyHash + ", lease ends in " + e.Remaining.String() + ")"
}

// Is reports whether target is ErrInProgress or keel.ErrRejected.
func (e *ConflictError) Is(target error) bool {
	return target == ErrInProgress || target == keel.ErrRejected
}

// RetryAfter returns the remaining lease, rounded up to whole seconds.
func (e *ConflictError) RetryAfter() time.Duration { return roundUpSeconds(e.Remaining) }

// StoreError is a failure of the Store. It matches [ErrUnavailable] and
// unwraps to the store's error.
type StoreError struct {
	// Op is the Store method that failed: "Claim", "Heartbeat", "Complete",
	// "Release" or "Get".
	Op  string
	Err error
}

// Error names the failed operation and the store's error.
func (e *StoreError) Error() string { return "idempotency: store " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUnavailable.
func (e *StoreError) Is(target error) bool { return target == ErrUnavailable }

// roundUpSeconds rounds d up to whole seconds, at least one.
func roundUpSeconds(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	s := (d + time.Second - 1) / time.Second
	if s <= 0 {
		return time.Duration(1<<63-1) / time.Second * time.Second
	}
	return s * time.Second
}

func secondsString(d time.Duration) string {
	return strconv.FormatInt(int64(roundUpSeconds(d)/time.Second), 10)
}
