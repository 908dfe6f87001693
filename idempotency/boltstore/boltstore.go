package boltstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/keelhq/keel/idempotency"
)

var _ idempotency.Store = (*Store)(nil)

// ErrClosed is returned by every method of a Store after Close.
var ErrClosed = errors.New("boltstore: closed")

// Bucket names. The file holds nothing else.
var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")
	bucketExpiry  = []byte("expiry")
	metaVersion   = []byte("version")
)

// Defaults of the options.
const (
	// DefaultOpenTimeout is how long Open waits for another process to
	// release the file's lock.
	DefaultOpenTimeout = time.Second
	// DefaultFileMode is the permission of a newly created file.
	DefaultFileMode os.FileMode = 0o600
	// DefaultReapBatch is how many records the background reaper deletes
	// per transaction.
	DefaultReapBatch = 1000
)

// Store keeps idempotency records in one bbolt file. Every method is atomic:
// what it reads and what it writes happen in one bbolt transaction (which
// concurrent writes may share, see the package doc). A transaction that
// writes is fsync'd before the method returns, so a record a method reported
// as stored survives a crash of the process (SIGKILL) or of the machine.
//
// A Store is safe for concurrent use by many goroutines. A file can be open in
// one Store, in one process, at a time: bbolt locks it. Create one with
// [Open]; the zero Store is not usable. Close it when done.
type Store struct {
	db *bolt.DB

	// w queues write operations and commits them in groups (writer.go).
	// buf is the encoding buffer; only the leading writer uses it.
	w   writer
	buf []byte

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// The reaper: nil channels when it is off.
	stop     context.CancelFunc
	stopCtx  context.Context
	reaped   chan struct{}
	interval time.Duration
	batch    int
	log      *slog.Logger
}

// Option configures a Store at Open.
type Option func(*options)

type options struct {
	openTimeout time.Duration
	mode        os.FileMode
	interval    time.Duration
	batch       int
	log         *slog.Logger
}

// WithOpenTimeout sets how long Open waits for another process to release the
// file's lock before it fails. The default is [DefaultOpenTimeout]; d must be
// positive.
func WithOpenTimeout(d time.Duration) Option { return func(o *options) { o.openTimeout = d } }

// WithFileMode sets the permission bits of a file Open creates. The default is
// [DefaultFileMode] (0600).
func WithFileMode(mode os.FileMode) Option { return func(o *options) { o.mode = mode } }

// WithReaper starts a background reaper that, every interval, deletes expired
// records (with [Store.Reap], at time.Now, batch records per transaction)
// until none is left. It runs until Close. batch ≤ 0 means
// [DefaultReapBatch]. Without this option nothing is reaped unless the caller
// calls Reap; expired records are invisible either way.
func WithReaper(interval time.Duration, batch int) Option {
	return func(o *options) {
		o.interval = interval
		o.batch = batch
		if o.batch <= 0 {
			o.batch = DefaultReapBatch
		}
	}
}

// WithLogger sets where the background reaper reports errors (level Warn)
// and how many records it deleted (level Debug). The default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Open opens the bbolt file at path, creating it if it does not exist, and
// returns a Store on it. The directory must exist. If another process holds
// the file open, Open waits up to the open timeout ([WithOpenTimeout]) and
// then fails.
//
// The file is synced on every commit (bbolt's NoSync is never set).
func Open(path string, opts ...Option) (*Store, error) {
	o := options{openTimeout: DefaultOpenTimeout, mode: DefaultFileMode}
	for _, opt := range opts {
		opt(&o)
	}
	if o.openTimeout <= 0 {
		return nil, fmt.Errorf("boltstore: open timeout must be positive, got %v", o.openTimeout)
	}
	if o.interval < 0 || (o.interval == 0 && o.batch != 0) {
		return nil, fmt.Errorf("boltstore: reaper interval must be positive, got %v", o.interval)
	}
	db, err := bolt.Open(path, o.mode, &bolt.Options{
		Timeout:      o.openTimeout,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := db.Update(initBuckets); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{db: db}
	if o.interval > 0 {
		s.interval, s.batch = o.interval, o.batch
		s.log = o.log
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.stopCtx, s.stop = context.WithCancel(context.Background())
		s.reaped = make(chan struct{})
		go s.reapLoop()
	}
	return s, nil
}

// initBuckets creates the buckets of a new file and checks the format
// version of an existing one.
func initBuckets(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	switch v := meta.Get(metaVersion); {
	case v == nil:
		if err := meta.Put(metaVersion, []byte{formatVersion}); err != nil {
			return err
		}
	case len(v) != 1 || v[0] != formatVersion:
		return fmt.Errorf("unsupported file format version %v (this code reads %d)", v, formatVersion)
	}
	for _, name := range [][]byte{bucketRecords, bucketExpiry} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the background reaper, waits for it to return, waits for
// transactions in progress to end and closes the file. It is safe to call
// more than once; later calls return the first call's result. Every method
// called after Close returns [ErrClosed].
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.stop != nil {
			s.stop()
			<-s.reaped
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Path returns the path of the file.
func (s *Store) Path() string { return s.db.Path() }

// Len reports how many records the file holds, expired ones not yet reaped
// included. It walks the records bucket: its cost grows with the file.
func (s *Store) Len() (int, error) {
	n := 0
	err := s.view(context.Background(), func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketRecords).Stats().KeyN
		return nil
	})
	return n, err
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return mapErr(s.db.View(fn))
}

func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// live reports whether a record that expires at exp exists at now: it exists
// strictly before its expiry time.
func live(exp, now time.Time) bool { return now.Before(exp) }

// expiry is when a record claimed at now ends: after its retention, but never
// before its lease.
func expiry(now time.Time, lease, retention time.Duration) time.Time {
	return now.Add(max(lease, retention))
}

// txn is one transaction's view of the two buckets.
type txn struct {
	s       *Store
	records *bolt.Bucket
	expiry  *bolt.Bucket
}

func (s *Store) txn(tx *bolt.Tx) txn {
	return txn{s: s, records: tx.Bucket(bucketRecords), expiry: tx.Bucket(bucketExpiry)}
}

// readTxn is a txn that can only get: opening a bucket allocates, and
// reads need only the records.
func (s *Store) readTxn(tx *bolt.Tx) txn {
	return txn{s: s, records: tx.Bucket(bucketRecords)}
}

// get decodes the record stored under rk, or reports that there is none.
func (t txn) get(rk []byte) (entry, bool, error) {
	v := t.records.Get(rk)
	if v == nil {
		return entry{}, false, nil
	}
	e, err := decodeEntry(v)
	if err != nil {
		return entry{}, false, err
	}
	return e, true, nil
}

// put stores e under rk and moves its expiry index entry from old (the zero
// time when there was none) to e's ExpiresAt. The value is encoded into the
// store's buffer, which only the leading writer uses. Its errors are
// writeErrors.
func (t txn) put(rk []byte, old time.Time, e *entry) error {
	if err := t.putRaw(rk, old, e); err != nil {
		return &writeError{err}
	}
	return nil
}

func (t txn) putRaw(rk []byte, old time.Time, e *entry) error {
	if !old.IsZero() && !old.Equal(e.rec.ExpiresAt) {
		if err := t.expiry.Delete(t.indexKey(old, rk)); err != nil {
			return err
		}
	}
	// bbolt keeps references to the key and value until commit, so both
	// live in freshly sliced, never reused parts of one allocation.
	ik := t.indexKey(e.rec.ExpiresAt, rk)
	start := len(t.s.buf)
	t.s.buf = appendEntry(t.s.buf, e)
	val := t.s.buf[start:len(t.s.buf):len(t.s.buf)]
	if err := t.records.Put(rk, val); err != nil {
		return err
	}
	if old.IsZero() || !old.Equal(e.rec.ExpiresAt) {
		return t.expiry.Put(ik, nil)
	}
	return nil
}

// del deletes the record under rk, which expires at exp, and its index
// entry. Its errors are writeErrors.
func (t txn) del(rk []byte, exp time.Time) error {
	if err := t.expiry.Delete(t.indexKey(exp, rk)); err != nil {
		return &writeError{err}
	}
	if err := t.records.Delete(rk); err != nil {
		return &writeError{err}
	}
	return nil
}

// indexKey returns a new expiry index key for a record under rk expiring at
// exp.
func (t txn) indexKey(exp time.Time, rk []byte) []byte {
	k := make([]byte, 0, expiryKeyLen+len(rk))
	return append(appendExpiryTime(k, exp), rk...)
}

// checkKey rejects a (scope, key) whose bucket key bbolt cannot store.
func checkKey(rk []byte) error {
	if len(rk)+expiryKeyLen > bolt.MaxKeySize {
		return fmt.Errorf("boltstore: scope and key too long (%d bytes, at most %d)", len(rk), bolt.MaxKeySize-expiryKeyLen)
	}
	return nil
}
