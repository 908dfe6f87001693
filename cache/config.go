package cache

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// Defaults applied to zero Config fields.
const (
	DefaultTTL          = 10 * time.Second
	DefaultMaxStale     = 10 * time.Minute
	DefaultMaxEntries   = 1000
	DefaultMaxBodyBytes = 1 << 20  // 1 MiB
	DefaultMaxBytes     = 64 << 20 // 64 MiB
	DefaultHeader       = "Keel-Cache"
)

// Config configures a [Cache]. Every zero field means its documented default,
// so the zero Config is valid.
type Config struct {
	// Name identifies the cache in events. Optional.
	Name string
	// Observer receives the cache's events: keel.EventReplayed for each fresh
	// hit and keel.EventFallback for each stale response served in place of a
	// failure. Nil means no event is built.
	Observer keel.Observer

	// TTL is how long an entry is fresh after it was stored. Zero means 10s.
	TTL time.Duration
	// MaxStale is how long past its freshness an entry may still be served
	// when the origin fails: until stored + TTL + MaxStale. Zero means 10m.
	MaxStale time.Duration
	// ServeFresh makes the cache answer requests with fresh entries without
	// calling the origin, as a normal cache does. False (the default): every
	// request goes to the origin, and the cache answers only when it fails.
	ServeFresh bool
	// MaxEntries bounds the number of entries; the least recently used entry
	// is evicted beyond it. Zero means 1000.
	MaxEntries int
	// MaxBodyBytes is the largest body stored. Larger responses pass through
	// and are not stored. Zero means 1 MiB.
	MaxBodyBytes int64
	// MaxBytes bounds the sum of the stored bodies; least recently used
	// entries are evicted beyond it. Zero means 64 MiB.
	MaxBytes int64
	// Methods are the cacheable request methods. Zero means GET and HEAD.
	// Only GET responses are stored; a HEAD request is answered from the GET
	// entry of the same URL. Unsafe methods (POST, PUT, PATCH, DELETE) are
	// rejected by Validate.
	Methods []string
	// Vary lists request headers that are part of the key, besides the
	// method, scheme, host, path and canonical query. A response whose own
	// Vary header names a header not listed here (or "*") is not stored.
	// Listing "Authorization" makes requests with credentials cacheable,
	// keyed by a SHA-256 of the credential; otherwise they bypass the cache.
	Vary []string
	// StaleStatuses are the response statuses that count as a failure of the
	// origin. Zero means 500, 502, 503 and 504, the "error" of RFC 5861
	// stale-if-error. 429 is not included: add it to serve stale when the
	// origin rate-limits.
	StaleStatuses []int
	// Header is the response header that marks a response served from the
	// cache, with the value "hit" (fresh) or "stale". Zero means "Keel-Cache".
	Header string
	// Now returns the current time. Nil means time.Now (which
	// testing/synctest fakes).
	Now func() time.Time
}

var unsafeMethods = map[string]bool{
	http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodConnect: true,
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	switch {
	case c.TTL < 0:
		return fmt.Errorf("cache: Config.TTL is %v, want >= 0", c.TTL)
	case c.MaxStale < 0:
		return fmt.Errorf("cache: Config.MaxStale is %v, want >= 0", c.MaxStale)
	case c.MaxEntries < 0:
		return fmt.Errorf("cache: Config.MaxEntries is %d, want >= 0", c.MaxEntries)
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("cache: Config.MaxBodyBytes is %d, want >= 0", c.MaxBodyBytes)
	case c.MaxBytes < 0:
		return fmt.Errorf("cache: Config.MaxBytes is %d, want >= 0", c.MaxBytes)
	}
	for i, m := range c.Methods {
		if !isToken(m) {
			return fmt.Errorf("cache: Config.Methods[%d] %q is not a method token", i, m)
		}
		if unsafeMethods[m] {
			return fmt.Errorf("cache: Config.Methods[%d] is %s, which is not a safe method", i, m)
		}
	}
	for i, h := range c.Vary {
		if !isToken(h) {
			return fmt.Errorf("cache: Config.Vary[%d] %q is not a header name", i, h)
		}
	}
	for i, s := range c.StaleStatuses {
		if s < 100 || s > 599 {
			return fmt.Errorf("cache: Config.StaleStatuses[%d] is %d, want 100..599", i, s)
		}
		if s == http.StatusOK {
			return errors.New("cache: Config.StaleStatuses lists 200, the status that is stored")
		}
	}
	if c.Header != "" && !isToken(c.Header) {
		return fmt.Errorf("cache: Config.Header %q is not a header name", c.Header)
	}
	return nil
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}
