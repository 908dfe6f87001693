package ledger

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the ledger file in a replica's data directory.
const FileName = "ledger.db"

// openTimeout is how long Open and ReadFile wait for another process to
// release the file.
const openTimeout = time.Second

var (
	bucketLedger  = []byte("ledger")
	bucketRepeats = []byte("repeats")
	bucketIDs     = []byte("ids")
)

// ErrClosed is returned by the methods of a closed Ledger.
var ErrClosed = errors.New("ledger: closed")

// Entry is one application of a charge.
type Entry struct {
	// Key is the charge's idempotency key. Required.
	Key string `json:"key"`
	// ID is the charge's id. Append generates one ("ch_" and 16 hex
	// digits) when it is empty; ids are unique within a file.
	ID string `json:"id"`
	// Amount is in the currency's minor unit (cents).
	Amount int64 `json:"amount"`
	// Currency is an ISO 4217 code such as "EUR".
	Currency string `json:"currency"`
	// Customer identifies who was charged.
	Customer string `json:"customer"`
	// Replica names the process that applied the charge.
	Replica string `json:"replica"`
	// Time is when the charge was applied. Append sets it to the current
	// time when it is zero.
	Time time.Time `json:"time"`
	// Seq is the order in which the file applied the entry, from 1. Append
	// sets it.
	Seq uint64 `json:"seq"`
	// Repeat is true when the file already held an entry with this Key:
	// the charge was applied again. Append sets it.
	Repeat bool `json:"repeat,omitempty"`
}

// Ledger is an open ledger file. It is safe for concurrent use. The zero
// Ledger is not usable; call Open.
type Ledger struct {
	db *bolt.DB
}

// Open opens the ledger file at path for reading and writing, creating it
// (mode 0600) if it does not exist. The directory must exist. If another
// process holds the file, Open waits up to one second and then fails.
func Open(path string) (*Ledger, error) { return openFile(path, false) }

// openFile opens the ledger file at path. With lazy, the buckets are
// created in a write transaction only if they are missing, so that opening
// an existing file costs no commit.
func openFile(path string, lazy bool) (*Ledger, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	missing := true
	if lazy {
		_ = db.View(func(tx *bolt.Tx) error {
			missing = tx.Bucket(bucketLedger) == nil || tx.Bucket(bucketRepeats) == nil || tx.Bucket(bucketIDs) == nil
			return nil
		})
	}
	if missing {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketLedger, bucketRepeats, bucketIDs} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	return &Ledger{db: db}, nil
}

// Close closes the file, waiting for transactions in progress. Later calls
// to Close return nil; other methods return ErrClosed.
func (l *Ledger) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("ledger: close: %w", err)
	}
	return nil
}

// Append records one application of the charge e and returns the entry as
// stored, with Seq, Repeat, and ID and Time when they were empty. It returns
// only once the entry is synced to disk: an entry Append returned survives
// SIGKILL of the process and a crash of the machine.
//
// An entry whose Key is already in the file is recorded too (Repeat is then
// true): a ledger never hides a charge applied twice. An entry whose ID is
// already in the file is refused.
func (l *Ledger) Append(e Entry) (Entry, error) {
	if e.Key == "" {
		return Entry{}, errors.New("ledger: Append: Entry.Key is empty")
	}
	e = prepare(e)
	err := l.db.Update(func(tx *bolt.Tx) error {
		var err error
		e, err = appendTx(tx, e)
		return err
	})
	if err != nil {
		return Entry{}, wrap("Append", err)
	}
	return e, nil
}

// ApplyOnce records the charge e unless its Key is already in the file, in
// one transaction: it returns the entry as stored and true when it applied
// e, or the key's first application and false when it did not. This is the
// business-level recovery point: a charge retried after its first attempt
// was applied (the replica died before answering, or the answer was lost) is
// answered with the original charge instead of being applied again. Like
// Append, it returns only once a new entry is synced to disk.
func (l *Ledger) ApplyOnce(e Entry) (Entry, bool, error) {
	if e.Key == "" {
		return Entry{}, false, errors.New("ledger: ApplyOnce: Entry.Key is empty")
	}
	e = prepare(e)
	var applied bool
	err := l.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketLedger).Get([]byte(e.Key)); b != nil {
			return json.Unmarshal(b, &e)
		}
		var err error
		e, err = appendTx(tx, e)
		applied = err == nil
		return err
	})
	if err != nil {
		return Entry{}, false, wrap("ApplyOnce", err)
	}
	return e, applied, nil
}

// prepare fills in the ID and Time of an entry to be written.
func prepare(e Entry) Entry {
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	return e
}

// appendTx writes e in tx, setting Seq and Repeat.
func appendTx(tx *bolt.Tx, e Entry) (Entry, error) {
	ledger, repeats, ids := tx.Bucket(bucketLedger), tx.Bucket(bucketRepeats), tx.Bucket(bucketIDs)
	if ids.Get([]byte(e.ID)) != nil {
		return Entry{}, fmt.Errorf("id %q is already in the ledger", e.ID)
	}
	seq, err := ledger.NextSequence()
	if err != nil {
		return Entry{}, err
	}
	e.Seq = seq
	e.Repeat = ledger.Get([]byte(e.Key)) != nil
	b, err := json.Marshal(e)
	if err != nil {
		return Entry{}, err
	}
	if e.Repeat {
		err = repeats.Put(binary.BigEndian.AppendUint64(nil, seq), b)
	} else {
		err = ledger.Put([]byte(e.Key), b)
	}
	if err != nil {
		return Entry{}, err
	}
	return e, ids.Put([]byte(e.ID), b)
}

// All returns every entry of the file, repeats included, in Seq order.
func (l *Ledger) All() ([]Entry, error) {
	var all []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		all, err = entries(tx)
		return err
	})
	if err != nil {
		return nil, wrap("All", err)
	}
	return all, nil
}

// Get returns the first application of the charge with idempotency key key,
// and whether there is one.
func (l *Ledger) Get(key string) (Entry, bool, error) {
	return l.lookup("Get", bucketLedger, key)
}

// ByID returns the entry with charge id id, and whether there is one.
func (l *Ledger) ByID(id string) (Entry, bool, error) {
	return l.lookup("ByID", bucketIDs, id)
}

func (l *Ledger) lookup(op string, bucket []byte, k string) (Entry, bool, error) {
	var e Entry
	var found bool
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket).Get([]byte(k))
		if b == nil {
			return nil
		}
		found = true
		return json.Unmarshal(b, &e)
	})
	if err != nil {
		return Entry{}, false, wrap(op, err)
	}
	return e, found, nil
}

// ReadFile returns every entry of the ledger file at path, in Seq order,
// opening it read-only. A missing file is an empty ledger. The file must not
// be held by a running process: ReadFile waits up to one second for it to be
// released and then fails. A process killed with SIGKILL holds nothing.
func ReadFile(path string) ([]Entry, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: read %s: %w", path, err)
	}
	var all []Entry
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		all, err = entries(tx)
		return err
	})
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: read %s: %w", path, err)
	}
	return all, nil
}

// ReadDir returns ReadFile of FileName in the data directory dir.
func ReadDir(dir string) ([]Entry, error) {
	return ReadFile(filepath.Join(dir, FileName))
}

// entries reads the "ledger" and "repeats" buckets of tx, sorted by Seq.
// Missing buckets (a file that was never opened for writing) are empty.
func entries(tx *bolt.Tx) ([]Entry, error) {
	var all []Entry
	for _, name := range [][]byte{bucketLedger, bucketRepeats} {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		err := b.ForEach(func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("bucket %s, key %q: %w", name, k, err)
			}
			all = append(all, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(all, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return all, nil
}

func wrap(op string, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return fmt.Errorf("ledger: %s: %w", op, err)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return "ch_" + hex.EncodeToString(b[:])
}
