package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/examples/payments/ledger"
)

func TestApplyOnce(t *testing.T) {
	l, _ := open(t)
	first, applied, err := l.ApplyOnce(ledger.Entry{Key: "k1", ID: "ch_a", Amount: 100, Currency: "EUR", Customer: "c1", Replica: "p1", Time: t0})
	if err != nil || !applied || first.Seq != 1 {
		t.Fatalf("first ApplyOnce: %+v applied=%v err=%v; want seq 1, applied", first, applied, err)
	}
	again, applied, err := l.ApplyOnce(ledger.Entry{Key: "k1", ID: "ch_b", Amount: 100, Currency: "EUR", Customer: "c1", Replica: "p2"})
	if err != nil || applied {
		t.Fatalf("second ApplyOnce: applied=%v err=%v; want not applied", applied, err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("second ApplyOnce returned another entry than the first application (-first +got):\n%s", diff)
	}
	if _, _, err := l.ApplyOnce(ledger.Entry{}); err == nil {
		t.Error("ApplyOnce of an entry without a key: got nil error")
	}
	all, err := l.All()
	if err != nil || len(all) != 1 {
		t.Errorf("All after two ApplyOnce of one key: %d entries, %v; want 1", len(all), err)
	}
}

// TestSharedAppliesOnceAcrossHandles writes one file through several Shared
// values — each with its own lock file descriptor, as separate processes
// have — with every key sent by every writer at once: each key is applied
// exactly once, and every caller gets that application.
func TestSharedAppliesOnceAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	const writers, keys = 4, 30
	var wg sync.WaitGroup
	got := make([][]ledger.Entry, writers)
	errs := make([]error, writers)
	for w := range writers {
		s := ledger.NewShared(path)
		got[w] = make([]ledger.Entry, keys)
		wg.Go(func() {
			for k := range keys {
				e, _, err := s.ApplyOnce(context.Background(), ledger.Entry{
					Key: fmt.Sprintf("key-%02d", k), Amount: int64(k + 1), Currency: "EUR", Customer: "c", Replica: fmt.Sprint("w", w),
				})
				if err != nil {
					errs[w] = err
					return
				}
				got[w][k] = e
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	entries, err := ledger.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if r := ledger.Audit(entries, nil); len(r.Duplicates) != 0 || r.Keys != keys || r.Entries != keys {
		t.Fatalf("audit: %d entries, %d keys, %d duplicates; want %d, %d, 0", r.Entries, r.Keys, len(r.Duplicates), keys, keys)
	}
	for w := 1; w < writers; w++ {
		if diff := cmp.Diff(got[0], got[w]); diff != "" {
			t.Errorf("writer %d saw other applications than writer 0 (-w0 +w%d):\n%s", w, w, diff)
		}
	}
}

func TestSharedAppendKeepsRepeats(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	a, b := ledger.NewShared(path), ledger.NewShared(path)
	ctx := context.Background()
	for _, s := range []*ledger.Shared{a, b} {
		if _, err := s.Append(ctx, ledger.Entry{Key: "k", Amount: 1, Currency: "EUR", Customer: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := b.All(ctx)
	if err != nil || len(all) != 2 || !all[1].Repeat {
		t.Fatalf("All: %+v, %v; want two entries, the second a repeat", all, err)
	}
	e, ok, err := a.ByID(ctx, all[1].ID)
	if err != nil || !ok || e.Seq != 2 {
		t.Errorf("ByID(%q) = %+v, %v, %v; want the second entry", all[1].ID, e, ok, err)
	}
	if a.Path() != path {
		t.Errorf("Path() = %q, want %q", a.Path(), path)
	}
}

// TestSharedWaitsForTheLock holds the lock file as another process would
// and checks that an operation waits for it and gives up with its context.
func TestSharedWaitsForTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	holder := ledger.NewShared(path)
	if _, err := holder.Append(context.Background(), ledger.Entry{Key: "k", Amount: 1, Currency: "EUR", Customer: "c"}); err != nil {
		t.Fatal(err)
	}
	release := holdLock(t, path+ledger.LockSuffix)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ledger.NewShared(path).ApplyOnce(ctx, ledger.Entry{Key: "k2", Amount: 1, Currency: "EUR", Customer: "c"}); !errors.Is(err, context.Canceled) {
		t.Errorf("ApplyOnce while another holds the lock, context canceled: got %v, want context.Canceled", err)
	}
	release()
	if _, applied, err := ledger.NewShared(path).ApplyOnce(context.Background(), ledger.Entry{Key: "k2", Amount: 1, Currency: "EUR", Customer: "c"}); err != nil || !applied {
		t.Errorf("ApplyOnce after the lock was released: applied=%v, %v; want applied", applied, err)
	}
}

func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := flock(f); err != nil {
		t.Fatal(err)
	}
	return func() { _ = f.Close() }
}

// BenchmarkSharedApplyOnce is one charge on a shared ledger: the lock, an
// open of the bbolt file, one synced commit and the close.
func BenchmarkSharedApplyOnce(b *testing.B) {
	s := ledger.NewShared(filepath.Join(b.TempDir(), ledger.FileName))
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := s.ApplyOnce(ctx, ledger.Entry{Key: fmt.Sprint("k", i), Amount: 1, Currency: "EUR", Customer: "c"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSharedApplyOnceParallel is the same from several goroutines, each
// with its own Shared (as separate processes would be).
func BenchmarkSharedApplyOnceParallel(b *testing.B) {
	path := filepath.Join(b.TempDir(), ledger.FileName)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := ledger.NewShared(path)
		for pb.Next() {
			if _, _, err := s.ApplyOnce(context.Background(), ledger.Entry{Key: fmt.Sprint("k", n.Add(1)), Amount: 1, Currency: "EUR", Customer: "c"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
