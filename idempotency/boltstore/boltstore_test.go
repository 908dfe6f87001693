package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/boltstore"
	"github.com/keelhq/keel/idempotency/idempotencytest"
)

func TestMain(m *testing.M) {
	if crashServerMain() {
		return
	}
	goleak.VerifyTestMain(m)
}

// open opens a Store on a new file in t's temporary directory and closes it
// when t ends.
func open(t testing.TB, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "idem.db"), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store { return open(t) })
}

func TestConformanceHTTP(t *testing.T) {
	idempotencytest.RunHTTP(t, func(t *testing.T) idempotency.Store { return open(t) })
}

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func claimReq(scope, key, token string, now time.Time) idempotency.ClaimRequest {
	return idempotency.ClaimRequest{
		Scope: scope, Key: key, Token: token, Fingerprint: idempotency.Fingerprint{1, 2, 3},
		Now: now, Lease: time.Second, Retention: time.Hour,
	}
}

// TestReopen: everything a method reported as stored is in the file after
// Close and Open, byte for byte, and the owner's token still fences.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idem.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	resp := idempotency.Response{
		Status: 201,
		Header: map[string][]string{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}, "X-Empty": {}, "X-Nil": nil},
		Body:   []byte("{\"id\":\"ch_1\"}\x00\xff"),
	}
	mustClaim(t, s, claimReq("tenant", "done", "tok-1", t0))
	if err := s.Complete(ctx, "tenant", "done", "tok-1", t0.Add(time.Millisecond), resp, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, s, claimReq("tenant", "busy", "tok-2", t0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	got, err := s.Get(ctx, "tenant", "done", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := idempotency.Record{
		Scope: "tenant", Key: "done", Fingerprint: idempotency.Fingerprint{1, 2, 3},
		Status: idempotency.StatusCompleted, Claims: 1, Response: &resp,
		CreatedAt: t0, CompletedAt: t0.Add(time.Millisecond), ExpiresAt: t0.Add(time.Millisecond + time.Hour),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("completed record after reopen (-want +got):\n%s", d)
	}
	// The busy record's owner can still complete it; a stranger cannot.
	if err := s.Release(ctx, "tenant", "busy", "tok-x"); !errors.Is(err, idempotency.ErrLeaseLost) {
		t.Errorf("Release with a wrong token after reopen: got %v, want ErrLeaseLost", err)
	}
	if err := s.Heartbeat(ctx, "tenant", "busy", "tok-2", t0.Add(500*time.Millisecond), time.Second); err != nil {
		t.Errorf("Heartbeat by the owner after reopen: got %v, want nil", err)
	}
}

func mustClaim(t *testing.T, s *boltstore.Store, req idempotency.ClaimRequest) {
	t.Helper()
	res, err := s.Claim(context.Background(), req)
	if err != nil || !res.Claimed {
		t.Fatalf("Claim(%q, %q): got claimed=%v err=%v, want claimed", req.Scope, req.Key, res.Claimed, err)
	}
}

// TestScopeKeySeparation: no choice of scope and key bytes makes two
// different pairs share a record.
func TestScopeKeySeparation(t *testing.T) {
	s := open(t)
	pairs := [][2]string{
		{"a", "bc"}, {"ab", "c"}, {"", "abc"}, {"abc", ""}, {"a\x00", "bc"}, {"a", "\x00bc"},
		{"\x01a", "bc"}, {"\x02ab", "c"},
	}
	for i, p := range pairs {
		req := claimReq(p[0], p[1], "tok", t0)
		req.Fingerprint = idempotency.Fingerprint{byte(i)}
		res, err := s.Claim(context.Background(), req)
		if err != nil || !res.Claimed {
			t.Fatalf("Claim(%q, %q): got claimed=%v err=%v; want a new record", p[0], p[1], res.Claimed, err)
		}
	}
	for i, p := range pairs {
		rec, err := s.Get(context.Background(), p[0], p[1], t0)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rec.Fingerprint[0], byte(i); got != want {
			t.Errorf("Get(%q, %q): got the record of pair %d, want pair %d", p[0], p[1], got, want)
		}
	}
	if n, err := s.Len(); n != len(pairs) || err != nil {
		t.Errorf("Len: got %d, %v; want %d, nil", n, err, len(pairs))
	}
}

// TestReapUsesIndex: Reap deletes expired records oldest first, honors the
// limit, leaves live records, and keeps the index in step when a record's
// expiry moves (takeover, heartbeat, complete).
func TestReapUsesIndex(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for i := range 5 {
		req := claimReq("s", string(rune('a'+i)), "tok", t0.Add(time.Duration(i)*time.Minute))
		req.Retention = time.Minute // expires at t0 + (i+1) min
		mustClaim(t, s, req)
	}
	// "a" completes with a long retention: its old index entry must not reap it.
	if err := s.Complete(ctx, "s", "a", "tok", t0.Add(30*time.Second), idempotency.Response{Status: 200}, time.Hour); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		now       time.Time
		limit     int
		want      int
		wantAlive []string
	}{
		{t0.Add(time.Minute), 0, 0, []string{"a", "b", "c", "d", "e"}}, // nothing expired before 1m+0
		{t0.Add(2 * time.Minute), 0, 1, []string{"a", "c", "d", "e"}},  // b expired at exactly 2m
		{t0.Add(10 * time.Minute), 2, 2, []string{"a", "e"}},           // limit 2: c, d (oldest first)
		{t0.Add(10 * time.Minute), 0, 1, []string{"a"}},
	}
	for _, tt := range tests {
		n, err := s.Reap(ctx, tt.now, tt.limit)
		if err != nil || n != tt.want {
			t.Errorf("Reap(%v, %d): got %d, %v; want %d, nil", tt.now.Sub(t0), tt.limit, n, err, tt.want)
		}
		var alive []string
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			// Look at what is in the file, not at what is live at now.
			if _, err := s.Get(ctx, "s", k, t0); err == nil {
				alive = append(alive, k)
			}
		}
		if d := cmp.Diff(tt.wantAlive, alive); d != "" {
			t.Errorf("after Reap(%v, %d): records in the file (-want +got):\n%s", tt.now.Sub(t0), tt.limit, d)
		}
	}
	if n, _ := s.Len(); n != 1 {
		t.Errorf("Len after reaping: got %d, want 1", n)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	_, errClaim := s.Claim(ctx, claimReq("s", "k", "t", t0))
	_, errGet := s.Get(ctx, "s", "k", t0)
	_, errReap := s.Reap(ctx, t0, 0)
	_, errLen := s.Len()
	for name, err := range map[string]error{
		"Claim": errClaim, "Get": errGet, "Reap": errReap, "Len": errLen,
		"Heartbeat": s.Heartbeat(ctx, "s", "k", "t", t0, time.Second),
		"Complete":  s.Complete(ctx, "s", "k", "t", t0, idempotency.Response{}, time.Hour),
		"Release":   s.Release(ctx, "s", "k", "t"),
	} {
		if !errors.Is(err, boltstore.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "idem.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	tests := []struct {
		name string
		path string
		opts []boltstore.Option
		want string
	}{
		{"locked by another Store", path, []boltstore.Option{boltstore.WithOpenTimeout(50 * time.Millisecond)}, "boltstore: open " + path + ": timeout"},
		{"missing directory", filepath.Join(dir, "nope", "idem.db"), nil, "boltstore: open " + filepath.Join(dir, "nope", "idem.db") + ": open " + filepath.Join(dir, "nope", "idem.db") + ": no such file or directory"},
		{"zero open timeout", path, []boltstore.Option{boltstore.WithOpenTimeout(0)}, "boltstore: open timeout must be positive, got 0s"},
		{"negative reaper interval", path, []boltstore.Option{boltstore.WithReaper(-time.Second, 10)}, "boltstore: reaper interval must be positive, got -1s"},
		{"zero reaper interval", path, []boltstore.Option{boltstore.WithReaper(0, 10)}, "boltstore: reaper interval must be positive, got 0s"},
	}
	for _, tt := range tests {
		s2, err := boltstore.Open(tt.path, tt.opts...)
		if err == nil {
			_ = s2.Close()
			t.Errorf("%s: Open succeeded, want error %q", tt.name, tt.want)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("%s: got error %q, want %q", tt.name, got, tt.want)
		}
	}

	// A file written by another format version is refused, not misread.
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("version"), []byte{2})
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	_, err = boltstore.Open(other)
	want := "boltstore: open " + other + ": unsupported file format version [2] (this code reads 1)"
	if err == nil || err.Error() != want {
		t.Errorf("Open of a version-2 file: got %v, want %q", err, want)
	}
}

func TestKeyTooLong(t *testing.T) {
	s := open(t)
	long := string(make([]byte, 40000))
	_, err := s.Claim(context.Background(), claimReq("s", long, "t", t0))
	if err == nil || err.Error() != "boltstore: scope and key too long (40002 bytes, at most 32756)" {
		t.Errorf("Claim with a 40000-byte key: got %v, want a too-long error", err)
	}
}

// TestWriterWaitHonoursContext: a Claim waiting for the single writer gives
// up when its context ends.
func TestWriterWaitHonoursContext(t *testing.T) {
	s := open(t)
	release := boltstore.HoldWriter(s)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := s.Claim(ctx, claimReq("s", "k", "t", t0))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Claim while the writer is held: got %v, want context.DeadlineExceeded", err)
	}
	// A Get does not wait for the writer.
	if _, err := s.Get(context.Background(), "s", "k", t0); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("Get while the writer is held: got %v, want ErrNotFound", err)
	}
}

// TestReadAllocs bounds the allocations of a replay read (Get) and of a
// claim that finds a completed record: bbolt's read transaction plus the
// decoded record, nothing per byte of body.
func TestReadAllocs(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	mustClaim(t, s, claimReq("s", "k", "tok", t0))
	resp := idempotency.Response{Status: 201, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: make([]byte, 64<<10)}
	if err := s.Complete(ctx, "s", "k", "tok", t0, resp, time.Hour); err != nil {
		t.Fatal(err)
	}
	get := testing.AllocsPerRun(100, func() {
		if _, err := s.Get(ctx, "s", "k", t0); err != nil {
			t.Fatal(err)
		}
	})
	claim := testing.AllocsPerRun(100, func() {
		if res, err := s.Claim(ctx, claimReq("s", "k", "other", t0)); err != nil || res.Claimed {
			t.Fatal(res.Claimed, err)
		}
	})
	// bbolt's read transaction takes 7 of them; the decoded record 7.
	if get > 14 || claim > 16 {
		t.Errorf("allocations per read: Get %v, losing Claim %v; want at most 14 and 16", get, claim)
	}
}
