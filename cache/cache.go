package cache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
)

const policyName = "cache"

// StatusError is the error a stale-serve event carries when the origin
// answered with one of Config.StaleStatuses instead of failing outright.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("cache: origin answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Stats counts what a Cache did since it was built.
type Stats struct {
	Hits        uint64 // fresh entries served without calling the origin
	StaleServes uint64 // stale entries served in place of an origin failure
	Misses      uint64 // cacheable requests that went to the origin
	Stores      uint64 // responses stored (a replaced entry counts again)
	Evictions   uint64 // entries evicted to respect MaxEntries or MaxBytes
}

// Cache keeps the last good response of each cacheable request and serves it
// when the origin fails (stale-if-error), and, with Config.ServeFresh, while
// it is fresh. Build it with [New] or [MustNew]; the zero Cache is not usable.
// A Cache is safe for concurrent use; one Cache may back several transports
// and middlewares, which then share entries.
type Cache struct {
	name       string
	obs        keel.Observer
	ttl        time.Duration
	maxStale   time.Duration
	serveFresh bool
	maxEntries int
	maxBody    int64
	maxBytes   int64
	methods    []string
	vary       []string // canonical header names
	varyAuth   bool
	stale      []int
	header     string
	now        func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *entry, most recent first
	items map[string]*list.Element
	bytes int64

	hits, staleServes, misses, stores, evictions atomic.Uint64
}

// entry is one stored response. It is immutable once stored.
type entry struct {
	key       string
	status    int
	proto     string
	major     int
	minor     int
	header    http.Header
	body      []byte
	stored    time.Time
	originAge time.Duration
}

// New returns a Cache for cfg, or the error of cfg.Validate.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Cache{
		name: cfg.Name, obs: cfg.Observer,
		ttl: cfg.TTL, maxStale: cfg.MaxStale, serveFresh: cfg.ServeFresh,
		maxEntries: cfg.MaxEntries, maxBody: cfg.MaxBodyBytes, maxBytes: cfg.MaxBytes,
		header: http.CanonicalHeaderKey(cfg.Header), now: cfg.Now,
		lru: list.New(), items: make(map[string]*list.Element),
	}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.maxStale == 0 {
		c.maxStale = DefaultMaxStale
	}
	if c.maxEntries == 0 {
		c.maxEntries = DefaultMaxEntries
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if c.maxBytes == 0 {
		c.maxBytes = DefaultMaxBytes
	}
	if c.header == "" {
		c.header = DefaultHeader
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.methods = append([]string(nil), cfg.Methods...)
	if len(c.methods) == 0 {
		c.methods = []string{http.MethodGet, http.MethodHead}
	}
	for _, h := range cfg.Vary {
		h = http.CanonicalHeaderKey(h)
		if h == "Authorization" {
			c.varyAuth = true
		}
		c.vary = append(c.vary, h)
	}
	c.stale = append([]int(nil), cfg.StaleStatuses...)
	if len(c.stale) == 0 {
		c.stale = []int{500, 502, 503, 504}
	}
	return c, nil
}

// MustNew is like [New] but panics if cfg is invalid.
func MustNew(cfg Config) *Cache {
	c, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// Len returns the number of entries held, expired ones included until they
// are looked up or evicted.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), StaleServes: c.staleServes.Load(), Misses: c.misses.Load(),
		Stores: c.stores.Load(), Evictions: c.evictions.Load(),
	}
}

// key returns the cache key of r and whether r is cacheable at all.
func (c *Cache) key(r *http.Request) (string, bool) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	ok := false
	for _, m := range c.methods {
		if m == method {
			ok = true
			break
		}
	}
	if !ok || hasDirective(r.Header, "no-store") {
		return "", false
	}
	auth := r.Header.Values("Authorization")
	if len(auth) > 0 && !c.varyAuth {
		return "", false
	}
	if method == http.MethodHead {
		method = http.MethodGet
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	q := ""
	if r.URL != nil {
		q = canonicalQuery(r.URL.RawQuery)
	}
	var b strings.Builder
	b.Grow(len(method) + len(host) + len(q) + 64)
	b.WriteString(method)
	b.WriteByte(0)
	if r.URL != nil {
		b.WriteString(r.URL.Scheme)
		b.WriteByte(0)
		b.WriteString(strings.ToLower(host))
		b.WriteByte(0)
		b.WriteString(r.URL.EscapedPath())
		b.WriteByte(0)
		b.WriteString(q)
	}
	for _, h := range c.vary {
		b.WriteByte(0)
		vs := r.Header.Values(h)
		if h == "Authorization" {
			if len(vs) > 0 {
				sum := sha256.Sum256([]byte(strings.Join(vs, "\n")))
				b.WriteString(hex.EncodeToString(sum[:]))
			}
			continue
		}
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(1)
			}
			b.WriteString(v)
		}
	}
	return b.String(), true
}

// canonicalQuery orders the query's parameters by name, stably (parameters
// of one name keep their order, which may matter), so that ?b=1&a=2 and
// ?a=2&b=1 share an entry. The parameters are compared as sent, without
// unescaping. A query already in order is returned as it is.
func canonicalQuery(raw string) string {
	if raw == "" || !strings.Contains(raw, "&") {
		return raw
	}
	var buf [16]string
	params := buf[:0]
	for p := range strings.SplitSeq(raw, "&") {
		if p != "" {
			params = append(params, p)
		}
	}
	name := func(p string) string {
		if i := strings.IndexByte(p, '='); i >= 0 {
			return p[:i]
		}
		return p
	}
	cmp := func(a, b string) int { return strings.Compare(name(a), name(b)) }
	if slices.IsSortedFunc(params, cmp) && len(params) == strings.Count(raw, "&")+1 {
		return raw
	}
	slices.SortStableFunc(params, cmp)
	return strings.Join(params, "&")
}

// lookup returns the entry for key if it is within maxAge of its store time,
// moving it to the front. An entry past TTL+MaxStale is removed.
func (c *Cache) lookup(key string, now time.Time, maxAge time.Duration) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	age := now.Sub(e.stored)
	if age >= c.ttl+c.maxStale {
		c.removeLocked(el)
		return nil
	}
	if age >= maxAge {
		return nil
	}
	c.lru.MoveToFront(el)
	return e
}

func (c *Cache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.items, e.key)
	c.bytes -= int64(len(e.body))
}

// store adds or replaces e and evicts least recently used entries beyond the
// limits. A body larger than MaxBytes on its own is not stored: it would
// evict everything else and then itself.
func (c *Cache) store(e *entry) {
	if int64(len(e.body)) > c.maxBytes {
		return
	}
	var evicted uint64
	c.mu.Lock()
	if el, ok := c.items[e.key]; ok {
		c.removeLocked(el)
	}
	c.items[e.key] = c.lru.PushFront(e)
	c.bytes += int64(len(e.body))
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.removeLocked(c.lru.Back())
		evicted++
	}
	c.mu.Unlock()
	c.stores.Add(1)
	if evicted > 0 {
		c.evictions.Add(evicted)
	}
}

// storable reports whether a response with this status and header may be
// stored.
func (c *Cache) storable(status int, h http.Header) bool {
	if status != http.StatusOK {
		return false
	}
	if len(h["Set-Cookie"]) > 0 || hasDirective(h, "no-store") || hasDirective(h, "private") {
		return false
	}
	for _, v := range h["Vary"] {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if f == "*" || !c.varies(f) {
				return false
			}
		}
	}
	return true
}

func (c *Cache) varies(name string) bool {
	for _, h := range c.vary {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

func (c *Cache) isStaleStatus(code int) bool {
	for _, s := range c.stale {
		if s == code {
			return true
		}
	}
	return false
}

// newEntry builds an entry from a response's header, which it takes over
// (the caller passes a clone), and body.
func (c *Cache) newEntry(key string, status int, proto string, major, minor int, h http.Header, body []byte, now time.Time) *entry {
	if proto == "" {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	hc := h
	if hc == nil {
		hc = http.Header{}
	}
	var originAge time.Duration
	if a := hc.Get("Age"); a != "" {
		if n, err := strconv.ParseInt(a, 10, 64); err == nil && n > 0 && n < 1<<31 {
			originAge = time.Duration(n) * time.Second
		}
	}
	for _, k := range []string{"Age", "Warning", c.header, "Set-Cookie"} {
		delete(hc, k)
	}
	return &entry{key: key, status: status, proto: proto, major: major, minor: minor,
		header: hc, body: body, stored: now, originAge: originAge}
}

// responseHeader returns a copy of e's header marked as served by the cache.
// It allocates the map, one backing array for the stored values and one for
// the added ones.
func (c *Cache) responseHeader(e *entry, now time.Time, stale bool) http.Header {
	h := make(http.Header, len(e.header)+3)
	n := 0
	for _, vs := range e.header {
		n += len(vs)
	}
	all := make([]string, 0, n)
	for k, vs := range e.header {
		all = append(all, vs...)
		h[k] = all[len(all)-len(vs) : len(all) : len(all)]
	}
	age := now.Sub(e.stored) + e.originAge
	if age < 0 {
		age = 0
	}
	added := make([]string, 3)
	added[0] = strconv.FormatInt(int64(age/time.Second), 10)
	h["Age"] = added[0:1:1]
	if stale {
		added[1], added[2] = "stale", `110 - "Response is Stale"`
		h[c.header] = added[1:2:2]
		h["Warning"] = added[2:3:3]
	} else {
		added[1] = "hit"
		h[c.header] = added[1:2:2]
	}
	return h
}

// served counts a served entry and emits its event.
func (c *Cache) served(ctx context.Context, e *entry, now time.Time, stale bool, cause error) {
	if stale {
		c.staleServes.Add(1)
	} else {
		c.hits.Add(1)
	}
	if c.obs == nil {
		return
	}
	ev := keel.Event{Kind: keel.EventReplayed, Policy: policyName, Name: c.name, Time: now,
		Duration: now.Sub(e.stored)}
	if stale {
		ev.Kind = keel.EventFallback
		ev.Err = cause
		ev.Outcome = keel.OutcomeFailure
	}
	c.obs.Observe(ctx, ev)
}

// mayServeStale reports whether a failure of a request with ctx may be
// answered with a stale entry: not when the caller itself canceled.
func mayServeStale(ctx context.Context) bool {
	return !errors.Is(ctx.Err(), context.Canceled)
}

// hasDirective reports whether a Cache-Control directive named name (with or
// without an argument) appears in h. Names compare case-insensitively; quoted
// arguments are skipped, so a comma or a name inside quotes is not seen.
func hasDirective(h http.Header, name string) bool {
	for _, v := range h["Cache-Control"] {
		if directiveIn(v, name) {
			return true
		}
	}
	return false
}

func directiveIn(v, name string) bool {
	i := 0
	for i < len(v) {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		start := i
		for i < len(v) && v[i] != '=' && v[i] != ',' && v[i] != ' ' && v[i] != '\t' {
			i++
		}
		if strings.EqualFold(v[start:i], name) && i > start {
			return true
		}
		// Skip to the next comma outside a quoted string.
		for i < len(v) && v[i] != ',' {
			if v[i] == '"' {
				i++
				for i < len(v) && v[i] != '"' {
					if v[i] == '\\' {
						i++
					}
					i++
				}
			}
			i++
		}
	}
	return false
}
