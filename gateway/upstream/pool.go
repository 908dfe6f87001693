package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/gateway/internal/h1"
)

// Pool is an upstream: a set of replica hosts, a balancer over them, outlier
// detection, optional active health checks, per-host breakers and an
// upstream bulkhead, and the HTTP transport that carries the attempts.
// It implements http.RoundTripper; each RoundTrip is one attempt, sent to one
// host. Create one with New and stop it with Close.
//
// A Pool is safe for concurrent use. The zero Pool is not usable.
type Pool struct {
	name      string
	balancer  string
	scheme    string
	out       Outlier // with defaults
	outlierOn bool
	hc        *HealthCheck // with defaults; nil = none
	penalty   float64      // ns; 0 = off
	defRTT    float64      // ns
	epoch     time.Time
	brCfg     *breaker.Config
	brRand    *rand.Rand // seeds per-host breaker generators; under setMu
	bh        *bulkhead.Bulkhead
	transport idleCloser        // h1 for "http" (net/http's for upgrades), net/http's for "https"
	send      http.RoundTripper // transport, or Config.WrapTransport of it
	resolver  Resolver
	check     func(ctx context.Context, addr string) error
	onEvent   func(Event)
	logger    *slog.Logger
	targets   []target

	hosts atomic.Pointer[hostSet]
	pk    picker

	omu  sync.Mutex    // outlier decisions: ejection, readmission, multipliers
	wake chan struct{} // tells the outlier loop of a new ejection

	setMu     sync.Mutex // serializes host-set changes and Close
	lastAddrs [][]string // per target, the addresses last resolved; under setMu
	closed    bool       // under setMu

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// hostSet is an immutable snapshot of the hosts, swapped as a whole.
type hostSet struct {
	hosts  []*host
	byAddr map[string]*host
}

// New validates cfg, resolves its targets, and returns a running Pool: its
// DNS refresh, outlier detection and health-check goroutines have started.
// A target whose name does not resolve yet does not fail New; the pool
// retries it every DNSRefresh and answers ErrNoHost while it has no host.
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pool{
		name:     cfg.Name,
		balancer: cfg.Balancer,
		scheme:   cfg.Scheme,
		out:      cfg.Outlier.withDefaults(),
		epoch:    time.Now(),
		brCfg:    cfg.Breaker,
		resolver: cfg.Resolver,
		check:    cfg.check,
		onEvent:  cfg.OnEvent,
		logger:   cfg.Logger,
		wake:     make(chan struct{}, 1),
	}
	p.outlierOn = !cfg.Outlier.Disabled
	if p.balancer == "" {
		p.balancer = PeakEWMA
	}
	if p.scheme == "" {
		p.scheme = "http"
	}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	if cfg.HealthCheck != nil {
		hc := cfg.HealthCheck.withDefaults()
		p.hc = &hc
		if p.check == nil {
			p.check = p.httpCheck
		}
	}
	switch {
	case cfg.FailurePenalty == 0:
		p.penalty = float64(DefaultFailurePenalty)
	case cfg.FailurePenalty > 0:
		p.penalty = float64(cfg.FailurePenalty)
	}
	p.defRTT = float64(orDefault(cfg.EWMADefaultRTT, DefaultEWMADefaultRTT))
	p.pk.tau = float64(orDefault(cfg.EWMADecay, DefaultEWMADecay))
	p.pk.panic = p.out.PanicThreshold
	if !p.outlierOn && p.hc == nil {
		p.pk.panic = 0 // nothing can make a host unavailable
	}
	switch p.balancer {
	case LeastRequest:
		p.pk.kind = balLeastRequest
	case RoundRobin:
		p.pk.kind = balRoundRobin
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	p.pk.rand.state.Store(seed)
	if cfg.Breaker != nil && cfg.Breaker.Rand != nil {
		p.brRand = rand.New(rand.NewPCG(cfg.Breaker.Rand.Uint64(), cfg.Breaker.Rand.Uint64()))
	}
	if cfg.Bulkhead != nil {
		bc := *cfg.Bulkhead
		if bc.Name == "" {
			bc.Name = cfg.Name
		}
		if bc.Observer == nil {
			bc.Observer = cfg.Observer
		}
		p.bh = bulkhead.MustNew(bc)
	}
	if cfg.Breaker != nil && cfg.Breaker.Observer == nil && cfg.Observer != nil {
		bc := *cfg.Breaker
		bc.Observer = cfg.Observer
		p.brCfg = &bc
	}
	names := map[string]bool{}
	for _, t := range cfg.Targets {
		tg := parseTarget(t)
		p.targets = append(p.targets, tg)
		if !tg.ip {
			names[tg.host] = true
		}
	}
	p.lastAddrs = make([][]string, len(p.targets))
	p.transport = p.newTransport(cfg, names)
	p.send = p.transport
	if cfg.WrapTransport != nil {
		p.send = cfg.WrapTransport(p.transport)
	}
	p.hosts.Store(&hostSet{byAddr: map[string]*host{}})
	p.ctx, p.cancel = context.WithCancel(context.Background())

	ctx, cancel := context.WithTimeout(p.ctx, dnsTimeout(cfg.DNSRefresh))
	p.refresh(ctx)
	cancel()

	if p.outlierOn {
		p.wg.Add(1)
		go p.outlierLoop()
	}
	if len(names) > 0 {
		p.wg.Add(1)
		go p.dnsLoop(orDefault(cfg.DNSRefresh, DefaultDNSRefresh))
	}
	return p, nil
}

// MustNew is like New but panics if cfg is invalid.
func MustNew(cfg Config) *Pool {
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// idleCloser is the transport of a pool.
type idleCloser interface {
	http.RoundTripper
	CloseIdleConnections()
}

// newTransport returns the pool's transport. Plain-text upstreams get the
// h1 client, which runs each exchange on the caller's goroutine, with
// net/http's Transport behind it for what it does not carry (upgrades,
// "Expect: 100-continue", request trailers); TLS upstreams get net/http's
// Transport, with HTTP/2.
func (p *Pool) newTransport(cfg Config, names map[string]bool) idleCloser {
	d := &net.Dialer{Timeout: orDefault(cfg.ConnectTimeout, DefaultConnectTimeout), KeepAlive: 30 * time.Second}
	std := p.stdTransport(cfg, names, d)
	if p.scheme != "http" {
		return std
	}
	return &h1.Transport{
		DialContext:         d.DialContext,
		MaxConnsPerHost:     cfg.MaxConnsPerHost,
		MaxIdleConnsPerHost: std.MaxIdleConnsPerHost,
		IdleConnTimeout:     std.IdleConnTimeout,
		Fallback:            std,
	}
}

func (p *Pool) stdTransport(cfg Config, names map[string]bool, d *net.Dialer) *http.Transport {
	t := &http.Transport{
		DialContext:           d.DialContext,
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       orDefault(cfg.IdleConnTimeout, DefaultIdleConnTimeout),
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// A proxy passes bodies through as they are: without this the
		// transport would ask for gzip on the client's behalf and inflate
		// the answer, spending CPU and changing the bytes.
		DisableCompression: true,
	}
	if t.MaxIdleConnsPerHost == 0 {
		t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if p.scheme == "https" {
		t.ForceAttemptHTTP2 = true
		tc := cfg.TLSClientConfig
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			tc = tc.Clone()
		}
		if tc.ServerName == "" && len(names) == 1 {
			for n := range names {
				tc.ServerName = n
			}
		}
		t.TLSClientConfig = tc
	}
	return t
}

// outReq is the attempt's shallow copy of the caller's request, in one
// allocation.
type outReq struct {
	r http.Request
	u url.URL
}

// outcome kinds recorded once per attempt.
type result uint8

const (
	resSuccess result = iota
	res5xx
	resLocal
	resNeutral
)

// RoundTrip sends one attempt of req to one host: it picks a host (see the
// package documentation), takes a permit from the host's breaker and from
// the upstream bulkhead, and sends a shallow copy of req whose URL scheme and
// host are the host's. req itself is not modified; req.Host (or, when it is
// empty, req.URL.Host) stays the Host header. The outcome is recorded once,
// at the response headers.
//
// Errors are the transport's own (so a *net.OpError with Op "dial" stays
// visible to errors.As), a *NoHostError, a *breaker.OpenError when every
// eligible host's breaker refused, or a *bulkhead.RejectedError.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		return nil, errors.New("upstream: request has no URL")
	}
	ctx := req.Context()
	hs := p.hosts.Load().hosts
	now := p.nanos()
	var tried, skip mask
	tr := trackerFrom(ctx)
	if tr != nil {
		tr.fill(hs, &tried)
	}
	var (
		h      *host
		permit breaker.Permit
		last   error
	)
	for range min(len(hs), maxBreakerSkips) {
		i, _ := p.pk.pick(hs, now, &tried, &skip)
		if i < 0 {
			break
		}
		c := hs[i]
		if c.br != nil {
			pm, err := c.br.Allow()
			if err != nil {
				skip.add(i)
				last = err
				continue
			}
			permit = pm
		}
		h = c
		break
	}
	if h == nil {
		if last != nil {
			return nil, last
		}
		return nil, &NoHostError{Upstream: p.name}
	}
	if tr != nil {
		tr.add(h)
	}
	var bp bulkhead.Permit
	if p.bh != nil {
		var err error
		if bp, err = p.bh.Acquire(ctx); err != nil {
			permit.Done(keel.OutcomeNeutral)
			return nil, err
		}
	}

	o := &outReq{r: *req, u: *req.URL}
	o.u.Scheme, o.u.Host = p.scheme, h.addr
	o.r.URL = &o.u
	o.r.RequestURI = ""
	if o.r.Host == "" {
		o.r.Host = req.URL.Host
	}

	h.active.Add(1)
	start := time.Now()
	resp, err := p.send.RoundTrip(&o.r)
	lat := time.Since(start)
	h.active.Add(-1)
	bp.Release()

	res, status := resSuccess, 0
	switch {
	case err != nil && ctx.Err() != nil:
		res = resNeutral
	case err != nil:
		res = resLocal
	default:
		status = resp.StatusCode
		if status >= 500 {
			res = res5xx
		}
	}
	switch res {
	case resSuccess:
		permit.Done(keel.OutcomeSuccess)
	case resNeutral:
		permit.Done(keel.OutcomeNeutral)
	default:
		permit.Done(keel.OutcomeFailure)
	}
	p.record(h, res, status, lat, p.nanos())
	return resp, err
}

// record feeds one attempt's outcome to the host's counters, EWMA and
// consecutive-failure rules, and ejects the host if a rule fires.
func (p *Pool) record(h *host, res result, status int, lat time.Duration, now int64) {
	if res == resNeutral {
		return
	}
	h.requests.Add(1)
	if res != resSuccess {
		h.failures.Add(1)
	}
	if p.penalty > 0 && (res == resLocal || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		// A host that fails fast must not attract traffic: peak_ewma avoids
		// it for the penalty, then tries it again, so that a dead host
		// keeps being probed and reaches its consecutive-failure ejection,
		// and a revived one is used again soon.
		h.penaltyUntil.Store(now + int64(p.penalty))
	}
	reason := ""
	h.mu.Lock()
	if res != resLocal { // a refused connection says nothing of latency
		h.observeLocked(now, float64(lat), p.pk.tau)
	}
	h.ivRequests++
	switch res {
	case resSuccess:
		h.cons5xx, h.consLocal = 0, 0
	case res5xx:
		h.ivFailures++
		h.consLocal = 0
		h.cons5xx++
		if n := p.out.Consecutive5xx; n > 0 && h.cons5xx >= n {
			reason = ReasonConsecutive5xx
		}
	case resLocal:
		h.ivFailures++
		h.consLocal++
		if n := p.out.ConsecutiveConnectFailures; n > 0 && h.consLocal >= n {
			reason = ReasonConsecutiveConnect
		}
	}
	if res != resLocal {
		h.ivResponses++
		h.ivLatency += int64(lat)
	}
	h.mu.Unlock()
	if reason != "" && p.outlierOn {
		p.ejectFor(h, reason, now)
	}
}

// nanos is the pool's monotonic clock: nanoseconds since New.
func (p *Pool) nanos() int64 { return int64(time.Since(p.epoch)) }

// wall converts pool nanoseconds to a wall time.
func (p *Pool) wall(n int64) time.Time { return p.epoch.Add(time.Duration(n)) }

func (p *Pool) emit(evs []Event) {
	for _, e := range evs {
		if p.logger != nil {
			p.logger.LogAttrs(p.ctx, slog.LevelInfo, "upstream host event",
				slog.String("upstream", e.Upstream), slog.String("host", e.Host),
				slog.String("kind", e.Kind.String()), slog.String("reason", e.Reason),
				slog.Duration("duration", e.Duration))
		}
		if p.onEvent != nil {
			p.onEvent(e)
		}
	}
}

func (p *Pool) event(h *host, kind EventKind, reason string, now int64, d time.Duration) Event {
	return Event{Time: p.wall(now), Upstream: p.name, Host: h.addr, Kind: kind, Reason: reason, Duration: d}
}

// Drain stops (on) or resumes (!on) new requests to the host with address
// addr ("ip:port", as in Status). Requests in flight finish. Drained hosts
// stay drained across DNS refreshes while their address stays.
func (p *Pool) Drain(addr string, on bool) error {
	h := p.hosts.Load().byAddr[addr]
	if h == nil {
		return errors.New("upstream " + quote(p.name) + ": no host " + quote(addr))
	}
	if h.drained.Swap(on) == on {
		return nil
	}
	kind := EventDrained
	if !on {
		kind = EventUndrained
	}
	p.emit([]Event{p.event(h, kind, ReasonAdmin, p.nanos(), 0)})
	return nil
}

// Breaker returns the breaker of the host with address addr, for an admin to
// force it open or reset it. ok is false when the host is unknown or the pool
// has no breakers.
func (p *Pool) Breaker(addr string) (b *breaker.Breaker, ok bool) {
	h := p.hosts.Load().byAddr[addr]
	if h == nil || h.br == nil {
		return nil, false
	}
	return h.br, true
}

// Close stops the pool's goroutines and waits for them to exit, or for ctx
// to end, whichever comes first (then it returns ctx's error), and closes
// idle connections. Attempts in flight may finish; new ones still work but
// get no more health checks, DNS refreshes or readmission ticks. Close may be
// called more than once.
func (p *Pool) Close(ctx context.Context) error {
	p.setMu.Lock()
	p.closed = true
	p.setMu.Unlock()
	p.cancel()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	defer p.transport.CloseIdleConnections()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// httpCheck is the active health check: GET Path, passing on an expected
// status.
func (p *Pool) httpCheck(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.scheme+"://"+addr+p.hc.Path, nil)
	if err != nil {
		return err
	}
	if p.hc.Host != "" {
		req.Host = p.hc.Host
	}
	req.Header.Set("User-Agent", "keel-health-check")
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if !statusExpected(resp.StatusCode, p.hc.ExpectedStatuses) {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string {
	return "upstream: health check status " + http.StatusText(e.code)
}

func statusExpected(code int, want []int) bool {
	if want == nil {
		return code >= 200 && code < 300
	}
	for _, w := range want {
		if w == code {
			return true
		}
	}
	return false
}
