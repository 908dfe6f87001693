package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/internal/headercodec"
)

var _ idempotency.Store = (*Store)(nil)

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "keel:idem:"

// ErrCorrupt is returned when a key under the store's prefix does not hold a
// record this package wrote.
var ErrCorrupt = errors.New("redisstore: corrupt record")

// Config configures a Store. The zero Config is valid.
type Config struct {
	// Prefix is prepended to every key the store writes. Give each
	// application its own prefix when several share one Redis database.
	// Empty means DefaultPrefix. It must not contain '{' or '}', which
	// would move the Redis Cluster hash tag.
	Prefix string
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	if strings.ContainsAny(c.Prefix, "{}") {
		return fmt.Errorf("redisstore: Config.Prefix %q must not contain '{' or '}'", c.Prefix)
	}
	return nil
}

// Store is an [idempotency.Store] in Redis. Create one with [New]; the zero
// Store is not usable. A Store is safe for concurrent use; it holds no state
// of its own besides the client, so any number of Stores (in any number of
// processes) with the same client settings and prefix share their records.
type Store struct {
	client redis.UniversalClient
	prefix string
}

// New returns a Store that keeps its records through client, which may be a
// *redis.Client, a *redis.ClusterClient or a failover client. The caller
// owns client and closes it. New reports an error only for an invalid cfg.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{client: client, prefix: prefix}, nil
}

// MustNew is like New but panics on an error.
func MustNew(client redis.UniversalClient, cfg Config) *Store {
	s, err := New(client, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Load loads the store's scripts into the Redis script cache (on every
// node, for a cluster client), so that even the first call of each method
// is one EVALSHA. Calling it is optional: without it, the first call of each
// script on a server falls back to EVAL once.
func (s *Store) Load(ctx context.Context) error {
	for _, sc := range []*redis.Script{claimScript, heartbeatScript, completeScript, releaseScript} {
		if err := sc.Load(ctx, s.client).Err(); err != nil {
			return fmt.Errorf("redisstore: load scripts: %w", err)
		}
	}
	return nil
}

// Key returns the Redis key that holds the record for (scope, key).
func (s *Store) Key(scope, key string) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + len(scope) + len(key) + 24)
	b.WriteString(s.prefix)
	b.WriteByte('{')
	b.WriteString(strconv.Itoa(len(scope)))
	b.WriteByte(':')
	b.WriteString(scope)
	b.WriteByte(':')
	b.WriteString(key)
	b.WriteByte('}')
	return b.String()
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Claim implements [idempotency.Store] in one script call. A record exists
// strictly before its ExpiresAt; an in-progress record's lease is taken over
// when it ended before req.Now. A new record lives until
// req.Now+max(req.Lease, req.Retention).
func (s *Store) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.ClaimResult, error) {
	exp := req.Now.Add(max(req.Lease, req.Retention))
	v, err := claimScript.Run(ctx, s.client, []string{s.Key(req.Scope, req.Key)},
		ms(req.Now), req.Token, req.Fingerprint[:], ms(req.Now.Add(req.Lease)), ms(exp)).Slice()
	if err != nil {
		return idempotency.ClaimResult{}, fmt.Errorf("redisstore: claim: %w", err)
	}
	if len(v) == 0 {
		return idempotency.ClaimResult{}, fmt.Errorf("%w: empty claim reply", ErrCorrupt)
	}
	code, _ := v[0].(int64)
	var res idempotency.ClaimResult
	switch code {
	case claimInserted:
		res.Claimed = true
		return res, nil
	case claimTookOver:
		res.Claimed, res.TookOver = true, true
	case claimExisting:
	default:
		return res, fmt.Errorf("%w: claim reply %v", ErrCorrupt, v[0])
	}
	if len(v) < 2 {
		return idempotency.ClaimResult{}, fmt.Errorf("%w: claim reply without record", ErrCorrupt)
	}
	fields, ok := v[1].([]any)
	if !ok {
		return idempotency.ClaimResult{}, fmt.Errorf("%w: claim reply record is %T", ErrCorrupt, v[1])
	}
	rec, err := decodeFields(req.Scope, req.Key, len(fields)/2, func(i int) (string, string) {
		f, _ := fields[2*i].(string)
		val, _ := fields[2*i+1].(string)
		return f, val
	})
	if err != nil {
		return idempotency.ClaimResult{}, err
	}
	res.Record = rec
	return res, nil
}

// Heartbeat implements [idempotency.Store] in one script call. When the new
// lease outlives the record's retention, the record (and its Redis TTL) is
// kept until the lease ends.
func (s *Store) Heartbeat(ctx context.Context, scope, key, token string, now time.Time, lease time.Duration) error {
	n, err := heartbeatScript.Run(ctx, s.client, []string{s.Key(scope, key)},
		token, ms(now), ms(now.Add(lease))).Int()
	if err != nil {
		return fmt.Errorf("redisstore: heartbeat: %w", err)
	}
	if n != 1 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

// Complete implements [idempotency.Store] in one script call.
func (s *Store) Complete(ctx context.Context, scope, key, token string, now time.Time, resp idempotency.Response, retention time.Duration) error {
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	n, err := completeScript.Run(ctx, s.client, []string{s.Key(scope, key)},
		token, ms(now), ms(now.Add(retention)), strconv.Itoa(resp.Status),
		headercodec.Encode(resp.Header), body).Int()
	if err != nil {
		return fmt.Errorf("redisstore: complete: %w", err)
	}
	if n != 1 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

// Release implements [idempotency.Store] in one script call.
func (s *Store) Release(ctx context.Context, scope, key, token string) error {
	n, err := releaseScript.Run(ctx, s.client, []string{s.Key(scope, key)}, token).Int()
	if err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	if n != 1 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

// Get implements [idempotency.Store] with one HGETALL.
func (s *Store) Get(ctx context.Context, scope, key string, now time.Time) (idempotency.Record, error) {
	m, err := s.client.HGetAll(ctx, s.Key(scope, key)).Result()
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("redisstore: get: %w", err)
	}
	if len(m) == 0 {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	names := make([]string, 0, len(m))
	for f := range m {
		names = append(names, f)
	}
	rec, err := decodeFields(scope, key, len(names), func(i int) (string, string) { return names[i], m[names[i]] })
	if err != nil {
		return idempotency.Record{}, err
	}
	if !now.Before(rec.ExpiresAt) {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	return rec, nil
}

// Reap implements [idempotency.Store]. Redis deletes expired records by
// itself (every write sets PEXPIREAT to the record's ExpiresAt), so Reap does
// nothing and returns 0, nil.
func (s *Store) Reap(ctx context.Context, now time.Time, limit int) (int, error) {
	return 0, ctx.Err()
}
