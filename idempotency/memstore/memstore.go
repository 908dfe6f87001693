package memstore

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/keelhq/keel/idempotency"
)

var _ idempotency.Store = (*Store)(nil)

// Store keeps idempotency records in memory. The zero Store is empty and
// ready to use, without a background reaper; [New] returns one too, with a
// reaper when asked ([WithReaper]). A Store is safe for concurrent use and
// must not be copied after first use.
//
// The Response of a record a Store returns is shared with the Store and with
// every other caller that reads the record: treat it as read-only. Complete
// copies the response it is given, so the caller may reuse its buffers.
type Store struct {
	mu   sync.Mutex
	recs map[recordKey]*entry

	// The reaper, owned by the Store: nil when it is off.
	stop      context.CancelFunc
	reaped    chan struct{}
	closeOnce sync.Once
}

type recordKey struct{ scope, key string }

type entry struct {
	rec   idempotency.Record
	token string
}

// DefaultReapBatch is how many records the background reaper deletes per
// Reap call unless [WithReaper] says otherwise.
const DefaultReapBatch = 1000

// maxReapRounds bounds the Reap calls of one tick of the background reaper,
// so that a huge backlog is deleted over several ticks.
const maxReapRounds = 100

// Option configures a Store at [New].
type Option func(*options)

type options struct {
	interval time.Duration
	batch    int
}

// WithReaper starts a background reaper that, every interval, deletes expired
// records ([Store.Reap] at time.Now, batch records per call, taking the lock
// once per call) until a call finds fewer than batch, or for at most 100
// calls. It runs until [Store.Close]. batch ≤ 0 means [DefaultReapBatch];
// interval ≤ 0 means no reaper. Without a reaper nothing is deleted unless
// the caller calls Reap; expired records are invisible either way.
func WithReaper(interval time.Duration, batch int) Option {
	return func(o *options) {
		o.interval = interval
		o.batch = batch
		if o.batch <= 0 {
			o.batch = DefaultReapBatch
		}
	}
}

// New returns an empty Store. With [WithReaper] it also starts the
// background reaper; call [Store.Close] to stop it.
func New(opts ...Option) *Store {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{}
	if o.interval > 0 {
		ctx, stop := context.WithCancel(context.Background())
		s.stop = stop
		s.reaped = make(chan struct{})
		go s.reapLoop(ctx, o.interval, o.batch)
	}
	return s
}

// Close stops the background reaper and waits for it to return. It is safe
// to call more than once, and on a Store without a reaper, where it does
// nothing. The Store stays usable after Close: only the reaper stops. It
// always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.reaped
		}
	})
	return nil
}

// reapLoop is the background reaper. Close cancels ctx and waits for reaped
// to be closed.
func (s *Store) reapLoop(ctx context.Context, interval time.Duration, batch int) {
	defer close(s.reaped)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range maxReapRounds {
			n, err := s.Reap(ctx, time.Now(), batch)
			if err != nil || n < batch {
				break
			}
		}
	}
}

// live reports whether a record that expires at exp still exists at now: it
// exists strictly before its expiry time.
func live(exp, now time.Time) bool { return now.Before(exp) }

// Claim implements [idempotency.Store]. A record exists strictly before its
// ExpiresAt; an in-progress record's lease is taken over when it ended before
// req.Now (LeaseExpires < req.Now).
func (s *Store) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.ClaimResult, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.ClaimResult{}, err
	}
	k := recordKey{req.Scope, req.Key}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = make(map[recordKey]*entry)
	}
	e := s.recs[k]
	if e == nil || !live(e.rec.ExpiresAt, req.Now) {
		if e == nil {
			e = &entry{}
			s.recs[k] = e
		}
		e.token = req.Token
		e.rec = idempotency.Record{
			Scope:        req.Scope,
			Key:          req.Key,
			Fingerprint:  req.Fingerprint,
			Status:       idempotency.StatusInProgress,
			LeaseExpires: req.Now.Add(req.Lease),
			Claims:       1,
			CreatedAt:    req.Now,
			ExpiresAt:    expiry(req.Now, req.Lease, req.Retention),
		}
		return idempotency.ClaimResult{Claimed: true}, nil
	}
	if e.rec.Status == idempotency.StatusInProgress && e.rec.LeaseExpires.Before(req.Now) {
		prev := e.rec
		e.token = req.Token
		e.rec.Fingerprint = req.Fingerprint
		e.rec.LeaseExpires = req.Now.Add(req.Lease)
		e.rec.Claims++
		e.rec.ExpiresAt = expiry(req.Now, req.Lease, req.Retention)
		return idempotency.ClaimResult{Claimed: true, TookOver: true, Record: prev}, nil
	}
	return idempotency.ClaimResult{Record: e.rec}, nil
}

// expiry is when a record claimed at now ends: after its retention, but never
// before its lease.
func expiry(now time.Time, lease, retention time.Duration) time.Time {
	return now.Add(max(lease, retention))
}

// ownedLocked returns the in-progress record token owns and that exists at
// now (any time when now is zero), or nil.
func (s *Store) ownedLocked(scope, key, token string, now time.Time) *entry {
	e := s.recs[recordKey{scope, key}]
	if e == nil || e.token != token || e.rec.Status != idempotency.StatusInProgress {
		return nil
	}
	if !now.IsZero() && !live(e.rec.ExpiresAt, now) {
		return nil
	}
	return e
}

// Heartbeat implements [idempotency.Store]. When the new lease outlives the
// record's retention, the record is kept until the lease ends.
func (s *Store) Heartbeat(ctx context.Context, scope, key, token string, now time.Time, lease time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ownedLocked(scope, key, token, now)
	if e == nil {
		return idempotency.ErrLeaseLost
	}
	e.rec.LeaseExpires = now.Add(lease)
	if e.rec.ExpiresAt.Before(e.rec.LeaseExpires) {
		e.rec.ExpiresAt = e.rec.LeaseExpires
	}
	return nil
}

// Complete implements [idempotency.Store]. It stores a copy of resp.
func (s *Store) Complete(ctx context.Context, scope, key, token string, now time.Time, resp idempotency.Response, retention time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stored := &idempotency.Response{Status: resp.Status, Header: cloneHeader(resp.Header), Body: bytes.Clone(resp.Body)}
	if stored.Body == nil {
		stored.Body = []byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ownedLocked(scope, key, token, now)
	if e == nil {
		return idempotency.ErrLeaseLost
	}
	e.token = ""
	e.rec.Status = idempotency.StatusCompleted
	e.rec.LeaseExpires = time.Time{}
	e.rec.Response = stored
	e.rec.CompletedAt = now
	e.rec.ExpiresAt = now.Add(retention)
	return nil
}

func cloneHeader(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h.Clone()
}

// Release implements [idempotency.Store].
func (s *Store) Release(ctx context.Context, scope, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownedLocked(scope, key, token, time.Time{}) == nil {
		return idempotency.ErrLeaseLost
	}
	delete(s.recs, recordKey{scope, key})
	return nil
}

// Get implements [idempotency.Store].
func (s *Store) Get(ctx context.Context, scope, key string, now time.Time) (idempotency.Record, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.recs[recordKey{scope, key}]
	if e == nil || !live(e.rec.ExpiresAt, now) {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	return e.rec, nil
}

// Reap implements [idempotency.Store]: it deletes up to limit records that
// expired at or before now (all of them when limit ≤ 0).
func (s *Store) Reap(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, e := range s.recs {
		if limit > 0 && n >= limit {
			break
		}
		if !live(e.rec.ExpiresAt, now) {
			delete(s.recs, k)
			n++
		}
	}
	return n, nil
}

// Len reports how many records the Store holds, expired ones included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}
