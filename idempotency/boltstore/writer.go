package boltstore

import (
	"context"
	"errors"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Group commit.
//
// bbolt commits one write transaction at a time and syncs the file twice per
// commit, so the sync, not the work, bounds how many writes a second a file
// takes. Writers therefore queue: the first one in leads, takes everything
// queued, applies it in one transaction and commits once; writers that
// arrived meanwhile wait, and the first of them leads the next group as soon
// as the commit is done. A lone writer commits at once (no added delay);
// under load, one commit serves many writers.
//
// A write function decides before it writes: any error it returns before
// its first write (ErrLeaseLost, errNoWrite, a corrupt record) is its own
// answer and the group goes on. A failure to write (a *writeError) would
// leave the transaction half done, so the group's transaction is rolled back
// and each of its functions runs again in a transaction of its own.

// writer is the queue of a Store's write operations.
type writer struct {
	mu      sync.Mutex
	pending []*writeOp
	leading bool // a goroutine is leading a group
}

// writeOp is one queued write.
type writeOp struct {
	ctx  context.Context
	fn   func(*bolt.Tx) error
	err  error
	wake chan struct{} // receives once: settled, or promoted to lead
	// Guarded by writer.mu.
	taken    bool // in a group being committed; can no longer be withdrawn
	promoted bool // chosen to lead the next group
}

// writeError wraps an error of bbolt's Put or Delete: the transaction is
// no longer fit to commit.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// update runs fn in a write transaction that commits (and syncs) together
// with the other writes queued at the time. fn must not write when it
// returns an error other than a *writeError. While queued, the wait ends
// when ctx does; once its group is committing, update waits for the commit.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	op := &writeOp{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	w := &s.w
	w.mu.Lock()
	w.pending = append(w.pending, op)
	lead := !w.leading
	w.leading = true
	w.mu.Unlock()
	if !lead {
		select {
		case <-op.wake:
		case <-ctx.Done():
			w.mu.Lock()
			if !op.taken && !op.promoted {
				w.pending = slices.DeleteFunc(w.pending, func(o *writeOp) bool { return o == op })
				w.mu.Unlock()
				return ctx.Err()
			}
			w.mu.Unlock()
			<-op.wake
		}
		w.mu.Lock()
		lead = op.promoted
		w.mu.Unlock()
	}
	if lead {
		s.leadGroup()
	}
	return mapErr(op.err)
}

// leadGroup commits everything queued as one group, then hands the lead to
// the first writer that queued meanwhile, or gives it up.
func (s *Store) leadGroup() {
	w := &s.w
	w.mu.Lock()
	group := w.pending
	w.pending = nil
	for _, op := range group {
		op.taken = true
	}
	w.mu.Unlock()

	s.commitGroup(group)

	s.handOff()
	for _, op := range group {
		if !op.promoted {
			op.wake <- struct{}{}
		}
	}
}

// handOff promotes the first queued writer to lead the next group, or, with
// none queued, ends the lead.
func (s *Store) handOff() {
	w := &s.w
	w.mu.Lock()
	if len(w.pending) == 0 {
		w.leading = false
		w.mu.Unlock()
		return
	}
	next := w.pending[0]
	next.promoted = true
	w.mu.Unlock()
	next.wake <- struct{}{}
}

// commitGroup applies group in one transaction and sets each op's err.
func (s *Store) commitGroup(group []*writeOp) {
	s.buf = s.buf[:0]
	defer func() {
		if cap(s.buf) > 1<<20 {
			s.buf = nil // do not pin one huge response forever
		}
	}()
	if len(group) == 1 {
		group[0].err = s.runAlone(group[0])
		return
	}
	wrote := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		wrote = false
		for _, op := range group {
			if op.err = op.ctx.Err(); op.err != nil {
				continue
			}
			op.err = op.fn(tx)
			if _, bad := errors.AsType[*writeError](op.err); bad {
				return op.err
			}
			wrote = wrote || op.err == nil
		}
		if !wrote {
			return errNoWrite // nothing to commit: roll back, no sync
		}
		return nil
	})
	switch {
	case err == nil || (errors.Is(err, errNoWrite) && !wrote):
		// Each op's own err stands.
	case errors.As(err, new(*writeError)):
		// One write failed: the others must not fail with it.
		s.buf = s.buf[:0]
		for _, op := range group {
			op.err = s.runAlone(op)
		}
	default:
		// The commit itself failed: nothing in the group was stored.
		for _, op := range group {
			if op.err == nil {
				op.err = err
			}
		}
	}
}

// runAlone applies op in a transaction of its own.
func (s *Store) runAlone(op *writeOp) error {
	if err := op.ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(op.fn)
}
