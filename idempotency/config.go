package idempotency

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// Defaults of the zero Config.
const (
	DefaultHeader       = "Idempotency-Key"
	DefaultLease        = 30 * time.Second
	DefaultRetention    = 24 * time.Hour
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxResponse  = 4 << 20
)

// DefaultMethods are the methods protected when Config.Methods is nil: the
// IETF draft's POST and PATCH. PUT and DELETE are idempotent by definition.
var DefaultMethods = []string{http.MethodPost, http.MethodPatch}

// DefaultReplayHeaders are the response headers stored and replayed when
// Config.ReplayHeaders is nil.
var DefaultReplayHeaders = []string{
	"Content-Type", "Content-Encoding", "Content-Language", "Content-Disposition",
	"Content-Location", "Location", "ETag", "Last-Modified", "Link", "Cache-Control",
	"Expires", "Vary",
}

// neverReplayed are headers that are never stored or replayed, whatever
// Config.ReplayHeaders says: credentials, and hop-by-hop and framing fields
// that belong to one connection or one message.
var neverReplayed = map[string]bool{
	"Set-Cookie": true, "Authorization": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Www-Authenticate": true, "Connection": true,
	"Keep-Alive": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Proxy-Connection": true, "Content-Length": true,
	"Date": true, "Idempotent-Replayed": true, "Idempotency-Retention": true,
}

// Config configures a [Middleware]. The zero value of every field but Store
// is a documented default.
type Config struct {
	// Name names the middleware in events. Optional.
	Name string
	// Observer receives the middleware's events (Policy "idempotency"). Nil
	// means none; no event is built then.
	Observer keel.Observer

	// Store keeps the records. Required.
	Store Store

	// Methods are the protected methods; requests with other methods pass
	// through untouched, key or not. Nil means DefaultMethods (POST, PATCH).
	Methods []string
	// Header is the request header that carries the key. Empty means
	// "Idempotency-Key".
	Header string
	// RequireKey makes a protected request without a key fail with 400.
	// False: such a request passes through without idempotency.
	RequireKey bool
	// MinKeyLength rejects keys shorter than this many bytes with 400 (an
	// entropy floor). Zero means 1; at most MaxKeyLength.
	MinKeyLength int

	// Route returns the route a request belongs to, for the fingerprint
	// (say, the matched pattern "POST /orders/{id}" rather than the path).
	// Nil means the request's URL path.
	Route func(*http.Request) string
	// FingerprintHeaders are the request headers that take part in the
	// fingerprint besides method, route, query and body (say,
	// "Content-Type" or an API version header). Nil means none.
	FingerprintHeaders []string
	// MaxBodyBytes is the largest request body that is fingerprinted. A
	// protected request with a key and a larger body is answered 413 and
	// nothing is recorded. The body is held in memory up to this size. Zero
	// means DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64

	// Scope returns the client scope of a request: records of different
	// scopes never meet, so one client cannot read another's responses by
	// guessing its keys. An error answers 400 (nothing recorded). Nil means
	// [CredentialScope]: a hash of the Authorization header, else of the
	// TLS client certificate, else one shared anonymous scope. Set Unscoped
	// instead to use one scope for everybody; setting both is an error.
	Scope func(*http.Request) (string, error)
	// Unscoped puts every request in one scope. It must be asked for.
	Unscoped bool

	// Lease is how long a claim stays owned without a heartbeat; a request
	// holding the key longer than this without a heartbeat is taken over.
	// Zero means DefaultLease (30s).
	Lease time.Duration
	// HeartbeatInterval is how often a running handler's lease is renewed
	// to now+Lease. Zero means Lease/3; negative turns heartbeats off (a
	// handler then owns its key for Lease at most). Must be below Lease.
	HeartbeatInterval time.Duration
	// Retention is how long a completed response is kept and replayed,
	// from completion. It is advertised in the Idempotency-Retention
	// header and in problem bodies. Zero means DefaultRetention (24h).
	Retention time.Duration
	// MaxWait is how long a request that finds its key in progress waits
	// for the outcome (polling the store with backoff) before it is
	// answered 409. Zero answers 409 at once.
	MaxWait time.Duration

	// Persistence says which outcomes are stored and replayed and which
	// are released for the client to retry. The zero value is SafeDefault.
	Persistence Persistence
	// MismatchStatus is the status of a key reused with a different
	// request: 400, 409 or 422. Zero means 422, as the IETF draft says.
	MismatchStatus int
	// ReplayHeaders are the response headers stored and replayed. Nil
	// means DefaultReplayHeaders. Set-Cookie, Authorization, hop-by-hop
	// and framing headers are never replayed; naming one is an error.
	ReplayHeaders []string
	// MaxResponseBytes is the largest response body that is stored. A
	// larger response is streamed to the client and not stored: its record
	// is released, so a retry runs the handler again. Zero means
	// DefaultMaxResponse (4 MiB).
	MaxResponseBytes int64

	// FailOpen runs the handler without idempotency when the store fails.
	// False (the default) answers 503 with Retry-After: without the store
	// there is no protection against a second execution.
	FailOpen bool
	// StoreRetryAfter is the Retry-After sent with a 503 when the store
	// fails. Zero means 1s.
	StoreRetryAfter time.Duration
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("idempotency: Config.Store is nil")
	case c.Header != "" && !isToken(c.Header):
		return fmt.Errorf("idempotency: Config.Header %q is not a valid header name", c.Header)
	case c.MinKeyLength < 0 || c.MinKeyLength > MaxKeyLength:
		return fmt.Errorf("idempotency: Config.MinKeyLength %d is outside 0..%d", c.MinKeyLength, MaxKeyLength)
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("idempotency: Config.MaxBodyBytes %d is negative", c.MaxBodyBytes)
	case c.MaxResponseBytes < 0:
		return fmt.Errorf("idempotency: Config.MaxResponseBytes %d is negative", c.MaxResponseBytes)
	case c.Scope != nil && c.Unscoped:
		return errors.New("idempotency: Config.Scope and Config.Unscoped are both set")
	case c.Lease < 0:
		return fmt.Errorf("idempotency: Config.Lease %v is negative", c.Lease)
	case c.Retention < 0:
		return fmt.Errorf("idempotency: Config.Retention %v is negative", c.Retention)
	case c.MaxWait < 0:
		return fmt.Errorf("idempotency: Config.MaxWait %v is negative", c.MaxWait)
	case c.StoreRetryAfter < 0:
		return fmt.Errorf("idempotency: Config.StoreRetryAfter %v is negative", c.StoreRetryAfter)
	case c.Persistence > StripeV1:
		return fmt.Errorf("idempotency: Config.Persistence %d is unknown", c.Persistence)
	}
	lease := cmpOr(c.Lease, DefaultLease)
	if c.HeartbeatInterval >= lease {
		return fmt.Errorf("idempotency: Config.HeartbeatInterval %v is not below the lease %v", c.HeartbeatInterval, lease)
	}
	if ret := cmpOr(c.Retention, DefaultRetention); ret < lease {
		return fmt.Errorf("idempotency: Config.Retention %v is shorter than the lease %v", ret, lease)
	}
	switch c.MismatchStatus {
	case 0, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
	default:
		return fmt.Errorf("idempotency: Config.MismatchStatus %d is not 400, 409 or 422", c.MismatchStatus)
	}
	for _, m := range c.Methods {
		if !isToken(m) {
			return fmt.Errorf("idempotency: Config.Methods has an invalid method %q", m)
		}
	}
	for _, h := range c.FingerprintHeaders {
		if !isToken(h) {
			return fmt.Errorf("idempotency: Config.FingerprintHeaders has an invalid header name %q", h)
		}
	}
	for _, h := range c.ReplayHeaders {
		if !isToken(h) {
			return fmt.Errorf("idempotency: Config.ReplayHeaders has an invalid header name %q", h)
		}
		if neverReplayed[http.CanonicalHeaderKey(h)] {
			return fmt.Errorf("idempotency: Config.ReplayHeaders names %s, which is never replayed", http.CanonicalHeaderKey(h))
		}
	}
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ':' || c == '/' || !isKeyChar(c) {
			return false
		}
	}
	return true
}

// Persistence is the policy that decides which outcomes of a handler are
// stored (and replayed to every retry) and which are released (the record
// is deleted, so a retry runs the handler again). The zero value is
// SafeDefault.
//
//	                  2xx 3xx   4xx       401   408 425 429   5xx      panic
//	SafeDefault       store     store     store release       release  release
//	StripeV1          store     store     release release     store    store a 500
type Persistence uint8

const (
	// SafeDefault stores 2xx, 3xx and 4xx responses except 408, 425 and
	// 429, and releases the key after those, after 5xx responses and after
	// a panic, so that a retry after a transient failure runs again.
	SafeDefault Persistence = iota
	// StripeV1 stores every response once the handler has started, 5xx
	// included (a panic is stored as a 500 problem), except 401, 408, 425
	// and 429, which are released: Stripe API v1 semantics.
	StripeV1
)

var persistenceNames = [...]string{SafeDefault: "safe-default", StripeV1: "stripe-v1"}

// String returns "safe-default" or "stripe-v1".
func (p Persistence) String() string {
	if int(p) < len(persistenceNames) {
		return persistenceNames[p]
	}
	return "unknown"
}

// ParsePersistence returns the preset named s ("safe-default", "stripe-v1";
// "" is safe-default).
func ParsePersistence(s string) (Persistence, error) {
	switch strings.ToLower(s) {
	case "", "safe-default":
		return SafeDefault, nil
	case "stripe-v1":
		return StripeV1, nil
	}
	return 0, fmt.Errorf("idempotency: unknown persistence preset %q (want safe-default or stripe-v1)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (p Persistence) MarshalText() ([]byte, error) {
	if p > StripeV1 {
		return nil, fmt.Errorf("idempotency: unknown persistence %d", p)
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParsePersistence.
func (p *Persistence) UnmarshalText(b []byte) error {
	v, err := ParsePersistence(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// statusClientClosedRequest is nginx's 499: the client went away before the
// answer. It says nothing about the request, so it is never kept.
const statusClientClosedRequest = 499

// Stores reports whether a handler's response with status is stored (true)
// or released (false). A panic is judged as status 0. 408, 425, 429 and 499
// (the client closed the request) are always released.
func (p Persistence) Stores(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests, statusClientClosedRequest:
		return false
	}
	if p == StripeV1 {
		return status != http.StatusUnauthorized
	}
	return status >= 200 && status < 500
}
