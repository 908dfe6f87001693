package boltstore

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keelhq/keel/idempotency"
)

// errNoWrite rolls back a write transaction that turned out to change
// nothing, so that it costs no fsync.
var errNoWrite = errors.New("boltstore: nothing to write")

// Claim implements [idempotency.Store]. A record exists strictly before its
// ExpiresAt, which is req.Now plus the longer of req.Retention and req.Lease;
// an in-progress record's lease is taken over when it ended before req.Now
// (LeaseExpires < req.Now). A takeover keeps CreatedAt, adds one to Claims
// and records req.Fingerprint and req.Token.
//
// A claim that finds a record it cannot take is answered from a read
// transaction and writes nothing; only a claim that wins takes the write
// transaction, in which the record is read again, so the decision is atomic.
func (s *Store) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.ClaimResult, error) {
	rk := recordKey(nil, req.Scope, req.Key)
	if err := checkKey(rk); err != nil {
		return idempotency.ClaimResult{}, err
	}
	var res idempotency.ClaimResult
	// decide reads the record and reports whether the claim wins (write).
	decide := func(t txn) (old entry, exists, write bool, err error) {
		res = idempotency.ClaimResult{}
		old, exists, err = t.get(rk)
		if err != nil {
			return entry{}, false, false, err
		}
		if exists && live(old.rec.ExpiresAt, req.Now) {
			if old.rec.Status != idempotency.StatusInProgress || !old.rec.LeaseExpires.Before(req.Now) {
				res.Record = withName(old.rec, req.Scope, req.Key)
				return old, exists, false, nil
			}
			res.TookOver = true
		}
		return old, exists, true, nil
	}
	// Fast path: a live record that cannot be taken needs no writer.
	err := s.view(ctx, func(tx *bolt.Tx) error {
		_, _, write, err := decide(s.readTxn(tx))
		if err == nil && !write {
			return errNoWrite
		}
		return err
	})
	if errors.Is(err, errNoWrite) {
		return res, nil
	}
	if err != nil {
		return idempotency.ClaimResult{}, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		t := s.txn(tx)
		old, exists, write, err := decide(t)
		if err != nil {
			return err
		}
		if !write {
			return errNoWrite
		}
		var oldExp time.Time
		if exists {
			oldExp = old.rec.ExpiresAt
		}
		e := entry{token: req.Token}
		if res.TookOver {
			res.Record = withName(old.rec, req.Scope, req.Key)
			e.rec = old.rec
			e.rec.Claims++
		} else {
			e.rec = idempotency.Record{Status: idempotency.StatusInProgress, Claims: 1, CreatedAt: req.Now}
		}
		e.rec.Fingerprint = req.Fingerprint
		e.rec.LeaseExpires = req.Now.Add(req.Lease)
		e.rec.ExpiresAt = expiry(req.Now, req.Lease, req.Retention)
		res.Claimed = true
		return t.put(rk, oldExp, &e)
	})
	if errors.Is(err, errNoWrite) {
		return res, nil
	}
	if err != nil {
		return idempotency.ClaimResult{}, err
	}
	return res, nil
}

func withName(r idempotency.Record, scope, key string) idempotency.Record {
	r.Scope, r.Key = scope, key
	return r
}

// owned reads the in-progress record token owns under rk that exists at now
// (at any time when now is zero). It returns ErrLeaseLost when there is none.
func (t txn) owned(rk []byte, token string, now time.Time) (entry, error) {
	e, ok, err := t.get(rk)
	if err != nil {
		return entry{}, err
	}
	if !ok || e.token != token || e.rec.Status != idempotency.StatusInProgress ||
		(!now.IsZero() && !live(e.rec.ExpiresAt, now)) {
		return entry{}, idempotency.ErrLeaseLost
	}
	return e, nil
}

// Heartbeat implements [idempotency.Store]. When the new lease outlives the
// record's retention, the record is kept until the lease ends.
func (s *Store) Heartbeat(ctx context.Context, scope, key, token string, now time.Time, lease time.Duration) error {
	rk := recordKey(nil, scope, key)
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := s.txn(tx)
		e, err := t.owned(rk, token, now)
		if err != nil {
			return err
		}
		old := e.rec.ExpiresAt
		e.rec.LeaseExpires = now.Add(lease)
		if e.rec.ExpiresAt.Before(e.rec.LeaseExpires) {
			e.rec.ExpiresAt = e.rec.LeaseExpires
		}
		return t.put(rk, old, &e)
	})
}

// Complete implements [idempotency.Store]. It stores a copy of resp; a nil
// Header or Body is stored as an empty one. The record then expires at
// now+retention.
func (s *Store) Complete(ctx context.Context, scope, key, token string, now time.Time, resp idempotency.Response, retention time.Duration) error {
	rk := recordKey(nil, scope, key)
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if resp.Body == nil {
		resp.Body = []byte{}
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := s.txn(tx)
		e, err := t.owned(rk, token, now)
		if err != nil {
			return err
		}
		old := e.rec.ExpiresAt
		e.token = ""
		e.rec.Status = idempotency.StatusCompleted
		e.rec.LeaseExpires = time.Time{}
		e.rec.Response = &resp // encoded, not retained
		e.rec.CompletedAt = now
		e.rec.ExpiresAt = now.Add(retention)
		return t.put(rk, old, &e)
	})
}

// Release implements [idempotency.Store].
func (s *Store) Release(ctx context.Context, scope, key, token string) error {
	rk := recordKey(nil, scope, key)
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := s.txn(tx)
		e, err := t.owned(rk, token, time.Time{})
		if err != nil {
			return err
		}
		return t.del(rk, e.rec.ExpiresAt)
	})
}

// Get implements [idempotency.Store]. It runs in a read transaction, which
// never waits for writers. The returned record shares no memory with the
// Store.
func (s *Store) Get(ctx context.Context, scope, key string, now time.Time) (idempotency.Record, error) {
	rk := recordKey(nil, scope, key)
	var rec idempotency.Record
	err := s.view(ctx, func(tx *bolt.Tx) error {
		e, ok, err := s.readTxn(tx).get(rk)
		if err != nil {
			return err
		}
		if !ok || !live(e.rec.ExpiresAt, now) {
			return idempotency.ErrNotFound
		}
		rec = withName(e.rec, scope, key)
		return nil
	})
	return rec, err
}

// Reap implements [idempotency.Store]: it deletes, in one transaction, up to
// limit records (all of them when limit ≤ 0) that expired at or before now,
// oldest first, walking the expiry index. When there is nothing to delete it
// writes nothing.
func (s *Store) Reap(ctx context.Context, now time.Time, limit int) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		t := s.txn(tx)
		var keys [][]byte
		c := t.expiry.Cursor()
		for k, _ := c.First(); k != nil && (limit <= 0 || len(keys) < limit); k, _ = c.Next() {
			exp, ok := expiryTime(k)
			if ok && live(exp, now) {
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		if len(keys) == 0 {
			return errNoWrite
		}
		for _, ik := range keys {
			if err := t.expiry.Delete(ik); err != nil {
				return &writeError{err}
			}
			if len(ik) < expiryKeyLen {
				continue
			}
			rk := ik[expiryKeyLen:]
			e, ok, err := t.get(rk)
			// A record that is not there, is live, or cannot be decoded
			// lost only a stale index entry.
			if err != nil || !ok || live(e.rec.ExpiresAt, now) {
				continue
			}
			if err := t.records.Delete(rk); err != nil {
				return &writeError{err}
			}
			n++
		}
		return nil
	})
	if errors.Is(err, errNoWrite) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}
