package idempotency

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Errors a Store returns. Any other error from a Store means the store could
// not be reached or failed; the middleware fails closed on it (503 with
// Retry-After) unless the route opted into failing open.
var (
	// ErrNotFound: no live record for the scope and key.
	ErrNotFound = errors.New("idempotency: record not found")
	// ErrLeaseLost: the caller's token no longer owns the record — its lease
	// expired and another owner took it over, or the record was completed,
	// released or reaped. A stale owner can never complete or release a
	// record it does not own.
	ErrLeaseLost = errors.New("idempotency: lease lost")
)

// Status is the state of a record.
type Status uint8

const (
	// StatusInProgress: a handler holds (or held) the lease and has not
	// completed. When its lease has expired, the next claim takes it over.
	StatusInProgress Status = iota + 1
	// StatusCompleted: the response is stored and is replayed to every
	// later request with the same scope, key and fingerprint.
	StatusCompleted
)

// String returns "in_progress" or "completed".
func (s Status) String() string {
	switch s {
	case StatusInProgress:
		return "in_progress"
	case StatusCompleted:
		return "completed"
	}
	return "unknown"
}

// Fingerprint is the SHA-256 of what makes two requests "the same request":
// method, route, canonical query, opted-in headers and body.
type Fingerprint [32]byte

// Response is a stored response, replayed byte for byte.
type Response struct {
	Status int
	// Header holds only the allowlisted headers; never Set-Cookie,
	// Authorization or hop-by-hop headers.
	Header http.Header
	Body   []byte
}

// Record is what a Store keeps for one (scope, key).
type Record struct {
	Scope       string
	Key         string
	Fingerprint Fingerprint
	Status      Status
	// LeaseExpires is when the current owner's lease ends (in-progress
	// records only).
	LeaseExpires time.Time
	// Claims counts how many times the record was claimed: 1, plus one for
	// every takeover of an expired lease.
	Claims int
	// Response is set for completed records.
	Response *Response
	// CreatedAt is when the record was first claimed; CompletedAt when it was
	// completed (zero until then); ExpiresAt when it stops existing
	// (retention), after which the key is free again.
	CreatedAt   time.Time
	CompletedAt time.Time
	ExpiresAt   time.Time
}

// ClaimRequest asks a Store to claim (scope, key) for one execution.
type ClaimRequest struct {
	Scope       string
	Key         string
	Fingerprint Fingerprint
	// Token is the new owner's token, unique per claim (the middleware
	// makes 128 random bits). The store keeps it to fence later calls.
	Token string
	// Now is the caller's clock; all times in the record are computed
	// from it, so tests and replicas agree on one timeline.
	Now time.Time
	// Lease is how long the claim stays owned without a Heartbeat.
	Lease time.Duration
	// Retention is how long the record lives after Now; Complete restarts
	// it from completion.
	Retention time.Duration
}

// ClaimResult is the outcome of a claim, from one atomic round trip.
type ClaimResult struct {
	// Claimed reports whether the caller now owns the record: it was absent
	// (or expired), or its lease had expired and the caller took it over.
	Claimed bool
	// TookOver reports a claim that replaced an in-progress record whose
	// lease had expired; Record then holds that previous record.
	TookOver bool
	// Record is the existing record when Claimed is false — returned in the
	// same round trip, never read separately — and the previous record on
	// a takeover.
	Record Record
}

// Store keeps idempotency records. Every method is atomic and linearizable
// per (scope, key), and takes one round trip to the backing server. The
// conformance suite in package idempotencytest checks all of this against a
// real server; every implementation must pass it.
type Store interface {
	// Claim inserts an in-progress record owned by req.Token if none exists
	// (or the existing one has expired), or takes over an in-progress record
	// whose lease ended before req.Now. Otherwise it returns the existing
	// record, unchanged, with Claimed false.
	Claim(ctx context.Context, req ClaimRequest) (ClaimResult, error)
	// Heartbeat extends the lease of a record token owns to now+lease. It
	// returns ErrLeaseLost if token does not own an in-progress record.
	Heartbeat(ctx context.Context, scope, key, token string, now time.Time, lease time.Duration) error
	// Complete stores resp in the record token owns and marks it completed,
	// to be kept until now+retention. ErrLeaseLost if token does not own an
	// in-progress record. The store must copy what it keeps of resp: the
	// middleware reuses resp.Header and resp.Body for later requests once
	// Complete returns.
	Complete(ctx context.Context, scope, key, token string, now time.Time, resp Response, retention time.Duration) error
	// Release deletes the in-progress record token owns, so that the next
	// request with the key runs the handler again (used when the outcome is
	// not to be stored: a 5xx or a panic under the safe default).
	// ErrLeaseLost if token does not own an in-progress record.
	Release(ctx context.Context, scope, key, token string) error
	// Get returns the record for (scope, key) as of now, or ErrNotFound if
	// there is none or it expired.
	Get(ctx context.Context, scope, key string, now time.Time) (Record, error)
	// Reap deletes up to limit records that expired before now and reports
	// how many it deleted. Stores whose server expires keys by itself may
	// return 0, nil.
	Reap(ctx context.Context, now time.Time, limit int) (int, error)
}
