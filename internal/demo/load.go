package demo

import (
	"context"
	"fmt"
	"github.com/keelhq/keel/internal/quantile"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/retry"
)

// maxInFlight bounds the requests of one API in flight; a tick that finds
// it reached sends nothing and counts as skipped.
const maxInFlight = 256

// apiStats accumulates the client-side results of one API. It is safe for
// concurrent use.
type apiStats struct {
	mu        sync.Mutex
	latencies []time.Duration // of every finished request
	window    []time.Duration // of the requests finished since the last tick
	requests  int
	ok        int
	stale     int // answered from the gateway's stale cache
	fallback  int // answered by the gateway's fallback
	skipped   int
	acked     []string // idempotency keys acknowledged with a 2xx
}

func (s *apiStats) record(d time.Duration, ok bool, key string, stale, fallback bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.latencies = append(s.latencies, d)
	s.window = append(s.window, d)
	if ok {
		s.ok++
		if key != "" {
			s.acked = append(s.acked, key)
		}
	}
	if stale {
		s.stale++
	}
	if fallback {
		s.fallback++
	}
}

func (s *apiStats) skip() {
	s.mu.Lock()
	s.skipped++
	s.mu.Unlock()
}

// tick returns the totals so far and the p99 of the requests finished
// since the previous tick, and starts a new window.
func (s *apiStats) tick() (requests, ok int, p99 time.Duration) {
	s.mu.Lock()
	w := s.window
	s.window = nil
	requests, ok = s.requests, s.ok
	s.mu.Unlock()
	slices.Sort(w)
	return requests, ok, quantile.Of(w, 0.99)
}

// result returns the final figures.
func (s *apiStats) result() APIResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	return APIResult{
		Requests: s.requests, Succeeded: s.ok, Skipped: s.skipped,
		Stale: s.stale, Fallback: s.fallback,
		P50: quantile.Of(l, 0.50), P95: quantile.Of(l, 0.95), P99: quantile.Of(l, 0.99),
	}
}

// loadConfig configures the load generator.
type loadConfig struct {
	gateway    string // host:port
	chargeRate int    // per second
	readRate   int
	seed       uint64
}

// load sends charges and recommendation reads through the gateway at a
// steady rate, with a Keel client that retries (charges with the same
// Idempotency-Key).
type load struct {
	cfg            loadConfig
	charges, reads apiStats
	clientRetries  atomic.Int64
	base           *http.Transport
	chargeClient   *http.Client
	readClient     *http.Client
	users          int
}

func newLoad(cfg loadConfig) (*load, error) {
	l := &load{cfg: cfg, users: 200}
	l.base = &http.Transport{
		MaxIdleConns: 2 * maxInFlight, MaxIdleConnsPerHost: 2 * maxInFlight,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}
	obs := keel.ObserverFunc(func(_ context.Context, e keel.Event) {
		if e.Kind == keel.EventRetry {
			l.clientRetries.Add(1)
		}
	})
	statuses := []int{http.StatusConflict, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	charges, err := keelhttp.NewTransport(keelhttp.TransportConfig{
		Name: "demo-charges", Base: l.base, RetryStatuses: statuses, DisableBreaker: true, Observer: obs,
		Retry: retry.Config{
			MaxAttempts: 4, AttemptTimeout: 2 * time.Second, MaxDuration: 10 * time.Second, MaxRetryAfter: 2 * time.Second,
			Backoff: backoff.MustNew(backoff.Config{Initial: 50 * time.Millisecond, Max: time.Second}),
		},
	})
	if err != nil {
		return nil, err
	}
	reads, err := keelhttp.NewTransport(keelhttp.TransportConfig{
		Name: "demo-recommendations", Base: l.base, RetryStatuses: statuses, DisableBreaker: true, Observer: obs,
		Retry: retry.Config{
			MaxAttempts: 2, AttemptTimeout: time.Second, MaxDuration: 3 * time.Second, MaxRetryAfter: time.Second,
			Backoff: backoff.MustNew(backoff.Config{Initial: 25 * time.Millisecond, Max: 500 * time.Millisecond}),
		},
	})
	if err != nil {
		return nil, err
	}
	l.chargeClient = &http.Client{Transport: charges}
	l.readClient = &http.Client{Transport: reads}
	return l, nil
}

// run sends requests until ctx ends, then waits for those in flight.
func (l *load) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { l.drive(ctx, l.cfg.chargeRate, 3, l.charge, &l.charges) })
	wg.Go(func() { l.drive(ctx, l.cfg.readRate, 4, l.read, &l.reads) })
	wg.Wait()
	l.base.CloseIdleConnections()
}

// drive calls send rate times a second until ctx ends, each in its own
// goroutine, with at most maxInFlight at once, and waits for them.
func (l *load) drive(ctx context.Context, rate int, stream uint64, send func(*rand.Rand) func(), stats *apiStats) {
	if rate <= 0 {
		return
	}
	rng := rand.New(rand.NewPCG(l.cfg.seed, stream))
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxInFlight)
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		req := send(rng) // drawn here, in order, so a seed gives the same requests
		select {
		case sem <- struct{}{}:
		default:
			stats.skip()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			req()
		})
	}
}

// charge prepares one charge with a new key. The request does not use the
// load's context: a charge in flight at the end is allowed to finish (within
// the client's MaxDuration), so that its outcome is known for the audit.
func (l *load) charge(rng *rand.Rand) func() {
	key := fmt.Sprintf("demo-%016x", rng.Uint64())
	body := fmt.Sprintf(`{"amount":%d,"currency":"EUR","customer":"customer-%03d"}`, 100+rng.IntN(100_000), rng.IntN(l.users))
	return func() {
		req, err := http.NewRequest(http.MethodPost, "http://"+l.cfg.gateway+"/charges", strings.NewReader(body))
		if err != nil {
			panic(err) // the URL is ours
		}
		req.Header.Set("Idempotency-Key", `"`+key+`"`)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(keelhttp.CriticalityHeader, "critical")
		start := time.Now()
		resp, err := l.chargeClient.Do(req)
		ok := false
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			ok = resp.StatusCode/100 == 2
		}
		if !ok {
			key = ""
		}
		l.charges.record(time.Since(start), ok, key, false, false)
	}
}

// read prepares one recommendations read for a random user.
func (l *load) read(rng *rand.Rand) func() {
	user := fmt.Sprintf("user-%03d", rng.IntN(l.users))
	return func() {
		req, err := http.NewRequest(http.MethodGet, "http://"+l.cfg.gateway+"/recommendations?user="+user, nil)
		if err != nil {
			panic(err)
		}
		start := time.Now()
		resp, err := l.readClient.Do(req)
		ok, stale, fallback := false, false, false
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			ok = resp.StatusCode == http.StatusOK
			stale = resp.Header.Get("Keel-Cache") == "stale"
			fallback = resp.Header.Get("Keel-Fallback") == "true"
		}
		l.reads.record(time.Since(start), ok, "", stale, fallback)
	}
}
