package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// LockSuffix is appended to a shared ledger's path to name its lock file.
const LockSuffix = ".lock"

// Shared is a ledger file written by several processes, as the replicas of
// a service share one database: each operation takes an exclusive lock on
// the lock file (the path with [LockSuffix]), opens the file, runs one
// transaction, closes the file and releases the lock. The operating system
// releases the lock of a process that dies, SIGKILL included, and a
// transaction a process did not commit leaves no trace, so a replica killed
// at any instant never leaves the file locked or half written.
//
// Shared is safe for concurrent use, within a process and across
// processes. Its zero value is not usable; call [NewShared]. Operations are
// serialized: each costs an open and, for a write, a synced commit.
type Shared struct {
	path string
	mu   sync.Mutex // serializes the operations of this process
}

// NewShared returns the shared ledger at path. The file is created by the
// first write; the directory must exist.
func NewShared(path string) *Shared { return &Shared{path: path} }

// Path returns the ledger file's path.
func (s *Shared) Path() string { return s.path }

// Append is [Ledger.Append] on the shared file. It waits for the lock until
// ctx ends; once it holds the lock it commits whatever ctx does.
func (s *Shared) Append(ctx context.Context, e Entry) (Entry, error) {
	var out Entry
	err := s.with(ctx, func(l *Ledger) error {
		var err error
		out, err = l.Append(e)
		return err
	})
	return out, err
}

// ApplyOnce is [Ledger.ApplyOnce] on the shared file: across every process
// sharing the file, a key is applied at most once. It waits for the lock
// until ctx ends; once it holds the lock it commits whatever ctx does.
func (s *Shared) ApplyOnce(ctx context.Context, e Entry) (Entry, bool, error) {
	var out Entry
	var applied bool
	err := s.with(ctx, func(l *Ledger) error {
		var err error
		out, applied, err = l.ApplyOnce(e)
		return err
	})
	return out, applied, err
}

// All is [Ledger.All] on the shared file; a missing file is empty.
func (s *Shared) All(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := s.with(ctx, func(l *Ledger) error {
		var err error
		out, err = l.All()
		return err
	})
	return out, err
}

// ByID is [Ledger.ByID] on the shared file.
func (s *Shared) ByID(ctx context.Context, id string) (Entry, bool, error) {
	var out Entry
	var ok bool
	err := s.with(ctx, func(l *Ledger) error {
		var err error
		out, ok, err = l.ByID(id)
		return err
	})
	return out, ok, err
}

// with runs f on the open file, holding the process mutex and the file lock.
func (s *Shared) with(ctx context.Context, f func(*Ledger) error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockFile(ctx, s.path+LockSuffix)
	if err != nil {
		return fmt.Errorf("ledger: lock %s: %w", s.path, err)
	}
	defer func() { err = errors.Join(err, unlock()) }()
	l, err := openFile(s.path, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	return f(l)
}

// lockFile takes an exclusive lock on the file at path, creating it, and
// returns the function that releases it. It polls every millisecond or so
// until it gets the lock or ctx ends.
func lockFile(ctx context.Context, path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // the caller's ledger path
	if err != nil {
		return nil, err
	}
	wait := 200 * time.Microsecond
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		ok, err := tryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		if ok {
			return func() error { return errors.Join(unlockFile(f), f.Close()) }, nil
		}
		if t == nil {
			t = time.NewTimer(wait)
		} else {
			t.Reset(wait)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}
