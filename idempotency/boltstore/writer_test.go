package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// queue starts one update per fn while the writer is held, waits until all
// are queued, releases the writer and returns their errors.
func queue(t *testing.T, s *Store, ctxs []context.Context, fns ...func(*bolt.Tx) error) []error {
	t.Helper()
	release := HoldWriter(s)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		ctx := context.Background()
		if ctxs != nil {
			ctx = ctxs[i]
		}
		wg.Go(func() { errs[i] = s.update(ctx, fn) })
		// Queue them in order.
		for range 1000 {
			s.w.mu.Lock()
			n := len(s.w.pending)
			s.w.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	release()
	wg.Wait()
	return errs
}

func putFn(key string, txids *[]int) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		*txids = append(*txids, tx.ID())
		if err := tx.Bucket(bucketMeta).Put([]byte(key), []byte("v")); err != nil {
			return &writeError{err}
		}
		return nil
	}
}

func has(t *testing.T, s *Store, key string) bool {
	t.Helper()
	found := false
	if err := s.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketMeta).Get([]byte(key)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return found
}

// TestGroupCommit: writes queued behind a commit share one transaction; a
// function's own error does not stop the others.
func TestGroupCommit(t *testing.T) {
	s := openInternal(t)
	var txids []int
	errs := queue(t, s, nil,
		putFn("a", &txids),
		func(*bolt.Tx) error { return errNoWrite },
		putFn("b", &txids),
	)
	if errs[0] != nil || !errors.Is(errs[1], errNoWrite) || errs[2] != nil {
		t.Errorf("errors: got %v, want [nil %v nil]", errs, errNoWrite)
	}
	if len(txids) != 2 || txids[0] != txids[1] {
		t.Errorf("transactions of the two puts: got %v, want one shared", txids)
	}
	if !has(t, s, "a") || !has(t, s, "b") {
		t.Errorf("after the group: a=%v b=%v, want both stored", has(t, s, "a"), has(t, s, "b"))
	}
}

// TestGroupWriteErrorIsolated: when one function fails to write, the group's
// transaction is rolled back and the others are committed on their own.
func TestGroupWriteErrorIsolated(t *testing.T) {
	s := openInternal(t)
	var txids []int
	boom := errors.New("boom")
	errs := queue(t, s, nil,
		putFn("a", &txids),
		func(tx *bolt.Tx) error {
			_ = tx.Bucket(bucketMeta).Put([]byte("half"), []byte("done"))
			return &writeError{boom}
		},
		putFn("b", &txids),
	)
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
		t.Errorf("errors: got %v, want [nil boom nil]", errs)
	}
	if !has(t, s, "a") || !has(t, s, "b") || has(t, s, "half") {
		t.Errorf("after the failed group: a=%v b=%v half=%v, want a and b only", has(t, s, "a"), has(t, s, "b"), has(t, s, "half"))
	}
}

// TestGroupCanceledWhileQueued: a writer whose context ends while it waits
// leaves the queue and writes nothing; one that ends once its group was
// taken is skipped.
func TestGroupCanceledWhileQueued(t *testing.T) {
	s := openInternal(t)
	var txids []int
	canceled, cancel := context.WithCancel(context.Background())
	release := HoldWriter(s)
	errc := make(chan error, 1)
	go func() { errc <- s.update(canceled, putFn("gone", &txids)) }()
	for range 1000 {
		s.w.mu.Lock()
		n := len(s.w.pending)
		s.w.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled queued write: got %v, want context.Canceled", err)
	}
	s.w.mu.Lock()
	n := len(s.w.pending)
	s.w.mu.Unlock()
	release()
	if n != 0 || has(t, s, "gone") {
		t.Errorf("after cancel: %d queued, stored=%v; want 0, false", n, has(t, s, "gone"))
	}
	if err := s.update(context.Background(), putFn("next", &txids)); err != nil || !has(t, s, "next") {
		t.Errorf("write after the cancel: %v", err)
	}
}
