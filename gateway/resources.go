package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/boltstore"
	"github.com/keelhq/keel/idempotency/memstore"
	"github.com/keelhq/keel/idempotency/pgstore"
	"github.com/keelhq/keel/idempotency/redisstore"
)

// resources are the connections and stores that outlive one configuration:
// an idempotency store or Redis client is opened once per URL and shared by
// every runtime that names it, and closed when the last one lets go, so a
// reload neither reopens a bolt file nor drops Redis connections.
type resources struct {
	logger *slog.Logger

	mu      sync.Mutex
	entries map[string]*resource // by kind + URL
}

type resource struct {
	refs  int
	value any
	close func() error
}

// acquire returns the resource for key, opening it with open on first use,
// and a function that releases this reference.
func (rs *resources) acquire(key string, open func() (any, func() error, error)) (any, func(), error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.entries == nil {
		rs.entries = make(map[string]*resource)
	}
	e, ok := rs.entries[key]
	if !ok {
		v, closeFn, err := open()
		if err != nil {
			return nil, nil, err
		}
		e = &resource{value: v, close: closeFn}
		rs.entries[key] = e
	}
	e.refs++
	var once sync.Once
	return e.value, func() { once.Do(func() { rs.release(key, e) }) }, nil
}

func (rs *resources) release(key string, e *resource) {
	rs.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last {
		delete(rs.entries, key)
	}
	rs.mu.Unlock()
	if last && e.close != nil {
		if err := e.close(); err != nil {
			_, u, _ := strings.Cut(key, " ")
			rs.logger.Warn("closing a store failed", slog.String("store", redact(u)), slog.Any("error", err))
		}
	}
}

// redis returns a shared Redis client for a redis:// or rediss:// URL.
func (rs *resources) redis(rawURL string) (redis.UniversalClient, func(), error) {
	v, release, err := rs.acquire("redis "+rawURL, func() (any, func() error, error) {
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, nil, fmt.Errorf("store %s: %w", redact(rawURL), err)
		}
		// A rate limit or idempotency check sits in the request path: fail
		// fast when Redis is away rather than hold the request.
		if opts.DialTimeout == 0 {
			opts.DialTimeout = time.Second
		}
		if opts.ReadTimeout == 0 {
			opts.ReadTimeout = time.Second
		}
		if opts.WriteTimeout == 0 {
			opts.WriteTimeout = time.Second
		}
		c := redis.NewClient(opts)
		return c, c.Close, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return v.(redis.UniversalClient), release, nil
}

// store returns the idempotency store for a URL: bolt://, redis://,
// rediss://, postgres:// (or postgresql://) or memory://.
// Relative bolt paths resolve in dataDir ("keel-data" when empty).
func (rs *resources) store(rawURL, dataDir string) (idempotency.Store, func(), error) {
	if rawURL == "" {
		return nil, nil, errors.New("no store: set idempotency.store or stores.idempotency")
	}
	scheme, _, _ := strings.Cut(rawURL, "://")
	switch scheme {
	case "redis", "rediss":
		client, releaseClient, err := rs.redis(rawURL)
		if err != nil {
			return nil, nil, err
		}
		s, err := redisstore.New(client, redisstore.Config{})
		if err != nil {
			releaseClient()
			return nil, nil, err
		}
		return s, releaseClient, nil
	}
	v, release, err := rs.acquire("store "+rawURL, func() (any, func() error, error) {
		return rs.open(scheme, rawURL, dataDir)
	})
	if err != nil {
		return nil, nil, err
	}
	return v.(idempotency.Store), release, nil
}

func (rs *resources) open(scheme, rawURL, dataDir string) (any, func() error, error) {
	switch scheme {
	case "memory":
		rs.logger.Warn("idempotency store memory:// keeps records in this process only: not durable, not shared between gateways; use it for tests")
		s := memstore.New()
		return s, s.Close, nil
	case "bolt":
		path := strings.TrimPrefix(rawURL, "bolt://")
		if u, err := url.Parse(rawURL); err == nil && u.Path != "" && u.Host == "" {
			path = u.Path
		}
		if !filepath.IsAbs(path) {
			if dataDir == "" {
				dataDir = "keel-data"
			}
			path = filepath.Join(dataDir, path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, nil, fmt.Errorf("store %s: %w", rawURL, err)
		}
		s, err := boltstore.Open(path, boltstore.WithLogger(rs.logger), boltstore.WithReaper(time.Minute, 1000))
		if err != nil {
			return nil, nil, fmt.Errorf("store %s: %w", rawURL, err)
		}
		return s, s.Close, nil
	case "postgres", "postgresql":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, rawURL)
		if err != nil {
			return nil, nil, fmt.Errorf("store %s: %w", redact(rawURL), err)
		}
		s, err := pgstore.New(pool, pgstore.Config{})
		if err == nil {
			err = s.Migrate(ctx)
		}
		if err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("store %s: %w", redact(rawURL), err)
		}
		return s, func() error { pool.Close(); return nil }, nil
	}
	return nil, nil, fmt.Errorf("store %s: unknown scheme %q (want bolt, redis, rediss, postgres or memory)", redact(rawURL), scheme)
}

// redact hides the password of a store URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
