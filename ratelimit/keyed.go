package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keelhq/keel"
)

// DefaultMaxKeys is the number of buckets a [Keyed] limiter keeps when
// KeyedConfig.MaxKeys is zero.
const DefaultMaxKeys = 10_000

// evictScan is how many of the least recently used buckets a Keyed limiter
// looks at to find one to drop.
const evictScan = 16

// KeyedConfig configures a [Keyed] limiter: every key gets a bucket as
// Config describes, and at most MaxKeys buckets are kept.
type KeyedConfig struct {
	Config
	// MaxKeys bounds how many buckets are kept. Zero means DefaultMaxKeys.
	// Negative is invalid.
	MaxKeys int
}

// Validate reports the first problem with c, naming the field.
func (c KeyedConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.MaxKeys < 0 {
		return fmt.Errorf("ratelimit: KeyedConfig.MaxKeys must not be negative, got %d", c.MaxKeys)
	}
	return nil
}

// Keyed is a set of token buckets, one per key, such as one per client or per
// route. It keeps at most MaxKeys buckets. When a new key arrives and the set
// is full, it drops a bucket to make room, preferring, among the 16 least
// recently used, one that has refilled completely (dropping it loses nothing:
// a full bucket is what a new key gets); if none has, it drops the one of
// those that is closest to full.
//
// Memory is bounded by MaxKeys buckets of about 80 bytes each plus the keys,
// which are copied when their bucket is made, so a key sliced from a larger
// string does not keep that string alive.
//
// Build it with [NewKeyed] or [MustNewKeyed]; the zero Keyed is not usable. A
// Keyed is safe for concurrent use.
type Keyed struct {
	shape   shape
	maxWait time.Duration
	maxKeys int
	name    string
	obs     keel.Observer

	mu    sync.Mutex
	m     map[string]*entry
	lru   entry // sentinel of the recency list: lru.next is the most recent
	evict int   // buckets dropped so far
}

// entry is a bucket in the recency list.
type entry struct {
	key        string
	b          bucket
	prev, next *entry
}

// NewKeyed returns a Keyed limiter for cfg, or the error of cfg.Validate.
func NewKeyed(cfg KeyedConfig) (*Keyed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	k := &Keyed{
		shape:   newShape(c.Rate, c.Burst),
		maxWait: c.MaxWait,
		maxKeys: cfg.MaxKeys,
		name:    c.Name,
		obs:     c.Observer,
		m:       make(map[string]*entry),
	}
	k.lru.next, k.lru.prev = &k.lru, &k.lru
	return k, nil
}

// MustNewKeyed is like [NewKeyed] but panics if cfg is invalid.
func MustNewKeyed(cfg KeyedConfig) *Keyed {
	k, err := NewKeyed(cfg)
	if err != nil {
		panic(err)
	}
	return k
}

// Len returns how many buckets are kept now.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// Evictions returns how many buckets have been dropped to make room for new
// keys.
func (k *Keyed) Evictions() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.evict
}

// AllowKey takes a token from key's bucket if one is available now and
// reports whether it did. It never waits and emits no event.
func (k *Keyed) AllowKey(key string) bool { return k.AllowKeyAt(key, time.Now()) }

// AllowKeyAt is [Keyed.AllowKey] at time now.
func (k *Keyed) AllowKeyAt(key string, now time.Time) bool {
	_, ok := k.reserve(key, now, 0)
	return ok
}

// TokensAt returns how many tokens key's bucket holds at now (Burst for a key
// without a bucket).
func (k *Keyed) TokensAt(key string, now time.Time) float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	var b bucket
	if e := k.m[key]; e != nil {
		b = e.b
	}
	return k.shape.tokens(&b, now)
}

// WaitKey takes a token from key's bucket as [Limiter.Wait] does: waiting at
// most MaxWait, never past ctx's deadline, and giving the token back if ctx
// ends first.
func (k *Keyed) WaitKey(ctx context.Context, key string) error {
	now := time.Now()
	d, ok := k.reserve(key, now, waitBudget(ctx, now, k.maxWait))
	if !ok {
		if k.obs != nil {
			k.emit(ctx, keel.Event{Kind: keel.EventRejected, Reason: keel.ReasonRateLimited, Time: now, Delay: d})
		}
		return &LimitedError{Name: k.name, Key: key, Delay: d}
	}
	if d > 0 {
		if err := sleep(ctx, d); err != nil {
			end := time.Now()
			k.mu.Lock()
			if e := k.m[key]; e != nil {
				k.shape.cancel(&e.b, now.Add(d), end)
			}
			k.mu.Unlock()
			if k.obs != nil {
				k.emit(ctx, keel.Event{Kind: keel.EventRejected, Reason: keel.ReasonContext, Time: end, Duration: end.Sub(now), Err: err})
			}
			return err
		}
	}
	if k.obs != nil {
		k.emit(ctx, keel.Event{Kind: keel.EventAcquired, Time: now.Add(d), Duration: d})
	}
	return nil
}

// DoKey takes a token from key's bucket as [Keyed.WaitKey] does and then runs
// op. If no token can be had, op does not run and DoKey returns WaitKey's
// error.
func (k *Keyed) DoKey(ctx context.Context, key string, op func(context.Context) error) error {
	if err := k.WaitKey(ctx, key); err != nil {
		return err
	}
	return op(ctx)
}

// reserve takes a token from key's bucket, creating the bucket if needed.
func (k *Keyed) reserve(key string, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.m[key]
	if e == nil {
		e = k.insertLocked(key, now)
	} else {
		k.touchLocked(e)
	}
	return k.shape.reserve(&e.b, now, maxWait)
}

// touchLocked moves e to the front of the recency list.
func (k *Keyed) touchLocked(e *entry) {
	if k.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = &k.lru, k.lru.next
	k.lru.next.prev = e
	k.lru.next = e
}

// insertLocked adds a full bucket for key at the front of the recency list,
// dropping one first if the set is full.
func (k *Keyed) insertLocked(key string, now time.Time) *entry {
	var e *entry
	if len(k.m) >= k.maxKeys {
		e = k.victimLocked(now)
		e.prev.next, e.next.prev = e.next, e.prev
		delete(k.m, e.key)
		k.evict++
		*e = entry{} // reuse the memory
	} else {
		e = new(entry)
	}
	e.key = strings.Clone(key) // do not pin the caller's larger buffer
	e.prev, e.next = &k.lru, k.lru.next
	k.lru.next.prev = e
	k.lru.next = e
	k.m[e.key] = e // the copy: a map key pins its bytes too
	return e
}

// victimLocked picks the bucket to drop: among the evictScan least recently
// used, the least recently used full one, or else the one closest to full.
func (k *Keyed) victimLocked(now time.Time) *entry {
	best := k.lru.prev
	for e, i := k.lru.prev, 0; e != &k.lru && i < evictScan; e, i = e.prev, i+1 {
		if e.b.full(now) {
			return e
		}
		if e.b.empty.Before(best.b.empty) {
			best = e
		}
	}
	return best
}

func (k *Keyed) emit(ctx context.Context, e keel.Event) {
	e.Policy, e.Name = policyName, k.name
	k.obs.Observe(ctx, e)
}
