package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ratelimit"
)

// rateKey says which bucket a request draws from: "" (one bucket for the
// route), "client_ip" or "header:<Name>".
type rateKey struct {
	header string // canonical header name, for "header:<Name>"
	ip     bool
}

func parseRateKey(s string) rateKey {
	switch {
	case s == "client_ip":
		return rateKey{ip: true}
	case strings.HasPrefix(s, "header:"):
		return rateKey{header: http.CanonicalHeaderKey(strings.TrimPrefix(s, "header:"))}
	}
	return rateKey{}
}

func (k rateKey) keyOf(r *http.Request) string {
	switch {
	case k.ip:
		if ip, ok := clientIP(r); ok {
			return ip.String()
		}
		return r.RemoteAddr
	case k.header != "":
		if v := r.Header[k.header]; len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// localLimit is a rate limit kept in this process: a token bucket per key.
type localLimit struct {
	rateKey
	k *ratelimit.Keyed
}

// allow takes a token or fails at once: the limiter has no MaxWait.
func (l *localLimit) allow(ctx context.Context, key string) error {
	return l.k.WaitKey(ctx, key)
}

// sharedLimit is a rate limit shared by every gateway replica through
// Redis: GCRA (a token bucket kept as one timestamp per key), decided
// atomically by a script that reads the server's own clock, so replicas
// with skewed clocks agree.
type sharedLimit struct {
	rateKey
	client   redis.UniversalClient
	prefix   string
	interval float64 // milliseconds between tokens
	burst    float64 // milliseconds of tolerance: (burst-1) intervals
	name     string
}

// gcra returns {1, 0} when a token was taken, else {0, ms until one is due}.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allow_at = next_tat - interval - tolerance
if allow_at > now then
  return {0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(next_tat), 'PX', math.ceil(next_tat - now) + 1)
return {1, 0}
`)

func newSharedLimit(client redis.UniversalClient, name string, key rateKey, perSecond float64, burst int) *sharedLimit {
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	interval := 1000 / perSecond
	return &sharedLimit{
		rateKey:  key,
		client:   client,
		prefix:   "keel:rl:{" + name + "}:",
		interval: interval,
		burst:    interval * float64(burst-1),
		name:     name,
	}
}

// errLimitStore is why a shared rate limit refused a request when Redis
// could not be asked: the gateway fails closed.
var errLimitStore = errors.New("gateway: rate limit store unavailable")

// limitStoreError carries the store's error as text only: a timeout talking
// to Redis is the store's failure, not the request's, so it must not read
// as context.DeadlineExceeded (a 504).
type limitStoreError struct{ err error }

func (e *limitStoreError) Error() string { return fmt.Sprintf("%v: %v", errLimitStore, e.err) }
func (e *limitStoreError) Is(target error) bool {
	return target == errLimitStore || target == keel.ErrRejected
}
func (e *limitStoreError) RetryAfter() time.Duration { return time.Second }

func (l *sharedLimit) allow(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	res, err := gcra.Run(ctx, l.client, []string{l.prefix + key}, l.interval, l.burst).Int64Slice()
	if err != nil {
		return &limitStoreError{err: err}
	}
	if len(res) == 2 && res[0] == 1 {
		return nil
	}
	var wait time.Duration
	if len(res) == 2 {
		wait = time.Duration(res[1]) * time.Millisecond
	}
	return &ratelimit.LimitedError{Name: l.name, Key: key, Delay: wait}
}
