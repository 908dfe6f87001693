package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/internal/headercodec"
)

var _ idempotency.Store = (*Store)(nil)

// DefaultTable is the table used when Config.Table is empty.
const DefaultTable = "keel_idempotency"

// ErrCorrupt is returned when a row does not hold a record this package
// wrote.
var ErrCorrupt = errors.New("pgstore: corrupt record")

// Config configures a Store. The zero Config is valid.
type Config struct {
	// Table is the table that holds the records, optionally qualified by a
	// schema ("billing.idempotency"). Empty means DefaultTable. The name is
	// quoted, so it is used exactly as written (case included).
	Table string
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	if c.Table == "" {
		return nil
	}
	parts := strings.Split(c.Table, ".")
	if len(parts) > 2 {
		return fmt.Errorf("pgstore: Config.Table %q has more than one '.' (want table or schema.table)", c.Table)
	}
	for _, p := range parts {
		switch {
		case p == "":
			return fmt.Errorf("pgstore: Config.Table %q has an empty name part", c.Table)
		case len(p) > 63:
			return fmt.Errorf("pgstore: Config.Table %q: name part longer than 63 bytes", c.Table)
		case strings.ContainsRune(p, 0) || strings.ContainsRune(p, '"'):
			return fmt.Errorf("pgstore: Config.Table %q: NUL and '\"' are not allowed", c.Table)
		}
	}
	return nil
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is an [idempotency.Store] in a PostgreSQL table. Create one with
// [New]; the zero Store is not usable. A Store is safe for concurrent use;
// a view returned by [Store.WithTx] is as safe as the pgx.Tx it runs in
// (a pgx.Tx is not safe for concurrent use).
type Store struct {
	db  querier
	sql *statements
}

// New returns a Store that keeps its records in the table cfg names, through
// pool. The caller owns pool and closes it. New does not touch the database;
// call [Store.Migrate] once to create the table. New reports an error only
// for an invalid cfg or a nil pool.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	return &Store{db: pool, sql: buildStatements(table)}, nil
}

// MustNew is like New but panics on an error.
func MustNew(pool *pgxpool.Pool, cfg Config) *Store {
	s, err := New(pool, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// WithTx returns a view of s whose statements run in tx, so that they commit
// or roll back with the caller's own writes. The view is valid until tx ends
// and, like tx, is not safe for concurrent use. See the package
// documentation for the usual pattern.
func (s *Store) WithTx(tx pgx.Tx) *Store {
	return &Store{db: tx, sql: s.sql}
}

// Migrate creates the table and its expiry index if they do not exist. It is
// safe to call on every start, from any number of replicas at once: a
// transaction-scoped advisory lock serializes concurrent migrations.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, s.sql.migrate); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// Claim implements [idempotency.Store] in one statement. A record exists
// strictly before its ExpiresAt; an in-progress record's lease is taken over
// when it ended before req.Now. A new record lives until
// req.Now+max(req.Lease, req.Retention).
func (s *Store) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.ClaimResult, error) {
	var cur, prev row
	dst := append(cur.dests(), prev.dests()...)
	err := s.db.QueryRow(ctx, s.sql.claim,
		[]byte(req.Scope), []byte(req.Key), req.Fingerprint[:], []byte(req.Token),
		req.Now.Add(req.Lease), req.Now, req.Now.Add(max(req.Lease, req.Retention)),
	).Scan(dst...)
	if err != nil {
		return idempotency.ClaimResult{}, fmt.Errorf("pgstore: claim: %w", err)
	}
	var res idempotency.ClaimResult
	if cur.status == nil {
		// The statement's snapshot held a live record that could not be
		// claimed: returned as read, with no lock and no write. If the
		// caller's token already owns it, this is a repeat of the caller's
		// own claim (a retry after a lost reply): claimed again.
		if prev.status != nil && *prev.status == 1 && string(prev.token) == req.Token {
			res.Claimed = true
			return res, nil
		}
		res.Record, err = prev.record()
		if err != nil {
			return idempotency.ClaimResult{}, err
		}
		return res, nil
	}
	if *cur.status == 1 && string(cur.token) == req.Token {
		res.Claimed = true
		if cur.claims == nil || *cur.claims <= 1 {
			return res, nil // new, or replaced an expired record
		}
		res.TookOver = true
		if prev.status == nil {
			// The row was inserted after this statement's snapshot was
			// taken and its lease had already ended by req.Now (possible
			// only with clocks more than a lease apart): what is known of
			// it is what it had in common with the new row.
			res.Record = idempotency.Record{
				Scope: req.Scope, Key: req.Key, Status: idempotency.StatusInProgress,
				Claims: int(*cur.claims) - 1, CreatedAt: deref(cur.created),
			}
			return res, nil
		}
		res.Record, err = prev.record()
		if err != nil {
			return idempotency.ClaimResult{}, err
		}
		return res, nil
	}
	// The row was committed by another claim after this statement's
	// snapshot; the conflict locked it and RETURNING gives it unchanged.
	res.Record, err = cur.record()
	if err != nil {
		return idempotency.ClaimResult{}, err
	}
	return res, nil
}

// Heartbeat implements [idempotency.Store] in one UPDATE. When the new lease
// outlives the record's retention, the record is kept until the lease ends.
func (s *Store) Heartbeat(ctx context.Context, scope, key, token string, now time.Time, lease time.Duration) error {
	tag, err := s.db.Exec(ctx, s.sql.heartbeat, []byte(scope), []byte(key), []byte(token), now, now.Add(lease))
	if err != nil {
		return fmt.Errorf("pgstore: heartbeat: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

// Complete implements [idempotency.Store] in one UPDATE.
func (s *Store) Complete(ctx context.Context, scope, key, token string, now time.Time, resp idempotency.Response, retention time.Duration) error {
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	tag, err := s.db.Exec(ctx, s.sql.complete, []byte(scope), []byte(key), []byte(token), now,
		int64(resp.Status), headercodec.Encode(resp.Header), body, now.Add(retention))
	if err != nil {
		return fmt.Errorf("pgstore: complete: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

// Release implements [idempotency.Store] in one DELETE.
func (s *Store) Release(ctx context.Context, scope, key, token string) error {
	tag, err := s.db.Exec(ctx, s.sql.release, []byte(scope), []byte(key), []byte(token))
	if err != nil {
		return fmt.Errorf("pgstore: release: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

// Get implements [idempotency.Store] in one SELECT.
func (s *Store) Get(ctx context.Context, scope, key string, now time.Time) (idempotency.Record, error) {
	var r row
	err := s.db.QueryRow(ctx, s.sql.get, []byte(scope), []byte(key), now).Scan(r.dests()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("pgstore: get: %w", err)
	}
	return r.record()
}

// Reap implements [idempotency.Store] in one DELETE: it deletes up to limit
// records that expired at or before now (all of them when limit ≤ 0),
// skipping rows that other transactions hold locked, and reports how many
// it deleted. Call it periodically; it uses the index on expires_at.
func (s *Store) Reap(ctx context.Context, now time.Time, limit int) (int, error) {
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	tag, err := s.db.Exec(ctx, s.sql.reap, now, lim)
	if err != nil {
		return 0, fmt.Errorf("pgstore: reap: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
