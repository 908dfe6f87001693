package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/cache"
	"github.com/keelhq/keel/gateway/config"
	"github.com/keelhq/keel/gateway/upstream"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/shed"
)

// runtime is one configuration compiled into what requests run through. It
// never changes: a reload builds a new runtime and swaps it in whole.
type runtime struct {
	cfg       *config.Config
	routes    []*route
	pools     map[string]*pool // by upstream name
	admission *admission
	global    rateLimiter // admission.rate_limit
	maxBody   int64
	fwd       forwarding

	// refs counts the requests running on this runtime, so that a reload
	// closes what the old runtime alone used only once they are done.
	refs atomic.Int64
	// held are the shared resources (stores, Redis clients) this runtime
	// holds a reference to; released when it is retired.
	held []func()
}

// pool is an upstream pool with the configuration it was built from, so that
// a reload keeps a pool (and its hosts' health, ejections and breakers) whose
// configuration did not change.
type pool struct {
	*upstream.Pool
	cfg config.Upstream
}

// build compiles cfg. Pools whose configuration equals one in prev are
// reused; the caller closes prev's others once prev is idle.
func (g *Gateway) build(cfg *config.Config, prev *runtime) (rt *runtime, err error) {
	rt = &runtime{cfg: cfg, pools: make(map[string]*pool, len(cfg.Upstreams))}
	defer func() {
		if err != nil {
			g.discard(rt, prev)
		}
	}()
	for _, cidr := range cfg.Listen.TrustedProxies {
		p, perr := parsePrefix(cidr)
		if perr != nil {
			return nil, fmt.Errorf("listen.trusted_proxies: %w", perr)
		}
		rt.fwd.trusted = append(rt.fwd.trusted, p)
	}
	rt.maxBody = cfg.Listen.MaxBodyBytes.Bytes()
	for name, uc := range cfg.Upstreams {
		if prev != nil {
			if old, ok := prev.pools[name]; ok && reflect.DeepEqual(old.cfg, uc) {
				rt.pools[name] = old
				continue
			}
		}
		p, perr := g.newPool(name, uc)
		if perr != nil {
			return nil, fmt.Errorf("upstreams.%s: %w", name, perr)
		}
		rt.pools[name] = &pool{Pool: p, cfg: uc}
	}
	if rt.admission, err = g.newAdmission(cfg.Admission); err != nil {
		return nil, err
	}
	if rl := cfg.Admission.RateLimit; rl != nil {
		if rt.global, err = g.newRateLimit(rt, "admission", rl); err != nil {
			return nil, fmt.Errorf("admission.rate_limit: %w", err)
		}
	}
	for i := range cfg.Routes {
		r, rerr := g.newRoute(rt, &cfg.Routes[i])
		if rerr != nil {
			return nil, fmt.Errorf("routes[%d] (%s): %w", i, cfg.Routes[i].Name, rerr)
		}
		rt.routes = append(rt.routes, r)
	}
	return rt, nil
}

// discard undoes a build that failed: it closes the pools it made (not
// those it took from prev) and releases what it held.
func (g *Gateway) discard(rt *runtime, prev *runtime) {
	for name, p := range rt.pools {
		if prev != nil && prev.pools[name] == p {
			continue
		}
		_ = p.Close(context.Background())
	}
	for _, release := range rt.held {
		release()
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (g *Gateway) newPool(name string, uc config.Upstream) (*upstream.Pool, error) {
	pc := upstream.Config{
		Name:                name,
		Targets:             uc.Targets,
		Scheme:              uc.Scheme,
		DNSRefresh:          uc.DNSRefresh.Std(),
		Balancer:            uc.Balancer,
		ConnectTimeout:      uc.ConnectTimeout.Std(),
		MaxConnsPerHost:     uc.MaxConnsPerHost,
		MaxIdleConnsPerHost: uc.MaxIdleConnsPerHost,
		IdleConnTimeout:     uc.IdleConnTimeout.Std(),
		FailurePenalty:      failurePenalty(uc.FailurePenalty),
		Observer:            g.observer,
		OnEvent:             g.hostEvent,
		Logger:              g.logger,
		Resolver:            g.opts.Resolver,
		// Injected faults sit where the host would answer, so that the
		// retries, the host's breaker and outlier detection react to them
		// exactly as to the host failing.
		// The client histogram (http.client.request.duration) measures
		// what reached the host, labeled with the host's address.
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return g.chaos.Transport(g.httpClient.RoundTripper(rt))
		},
	}
	if uc.TLS != nil {
		tc, err := upstreamTLS(uc.TLS)
		if err != nil {
			return nil, err
		}
		pc.TLSClientConfig = tc
	}
	if hc := uc.HealthCheck; hc != nil {
		pc.HealthCheck = &upstream.HealthCheck{
			Path:               hc.Path,
			Interval:           hc.Interval.Std(),
			Jitter:             hc.Jitter.Fraction(),
			Timeout:            hc.Timeout.Std(),
			HealthyThreshold:   hc.HealthyThreshold,
			UnhealthyThreshold: hc.UnhealthyThreshold,
			ExpectedStatuses:   hc.ExpectedStatuses,
			Host:               hc.Host,
		}
	}
	if o := uc.Outlier; o != nil {
		pc.Outlier = upstream.Outlier{
			Disabled:                   o.Disabled,
			Interval:                   o.Interval.Std(),
			Consecutive5xx:             o.Consecutive5xx,
			ConsecutiveConnectFailures: o.ConsecutiveConnectFailures,
			BaseEjectionTime:           o.BaseEjectionTime.Std(),
			MaxEjectionTime:            o.MaxEjectionTime.Std(),
			MaxEjectionPercent:         o.MaxEjectionPercent.Fraction(),
			PanicThreshold:             o.PanicThreshold.Fraction(),
		}
		if sr := o.SuccessRate; sr != nil {
			pc.Outlier.SuccessRate = &upstream.SuccessRate{MinHosts: sr.MinHosts, MinRequests: sr.MinRequests, StdevFactor: sr.StdevFactor}
		}
		if l := o.Latency; l != nil {
			pc.Outlier.Latency = &upstream.Latency{Factor: l.Factor, MinRequests: l.MinRequests, MinHosts: l.MinHosts, Threshold: l.Threshold.Std()}
		}
	}
	if b := uc.Breaker; b == nil || !b.Disabled {
		bc := breaker.Config{Observer: g.observer}
		if b != nil {
			bc.FailureRateThreshold = b.FailureRate.Fraction() * 100
			bc.MinimumCalls = b.MinimumCalls
			bc.WindowSize = b.Window
			if d := b.WindowDuration.Std(); d > 0 {
				bc.WindowType = breaker.TimeBased
				bc.WindowSize = int((d + time.Second - 1) / time.Second)
			}
			bc.SlowCallDuration = b.SlowCall.Std()
			bc.SlowCallRateThreshold = b.SlowCallRate.Fraction() * 100
			bc.OpenDuration = b.OpenDuration.Std()
			bc.HalfOpenPermits = b.HalfOpenPermits
		}
		// A probe that never reports must not keep the breaker half-open.
		bc.HalfOpenMaxWait = 2 * max(bc.OpenDuration, 30*time.Second)
		pc.Breaker = &bc
	}
	if b := uc.Bulkhead; b != nil {
		pc.Bulkhead = &bulkhead.Config{Name: name, MaxConcurrent: b.MaxConcurrent, MaxQueue: b.MaxQueue, MaxWait: b.MaxWait.Std(), Observer: g.observer}
	}
	return upstream.New(pc)
}

func upstreamTLS(c *config.UpstreamTLS) (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // insecure_skip_verify is the operator's explicit choice, documented as tests only
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate found", c.CAFile)
		}
		tc.RootCAs = roots
	}
	return tc, nil
}

func (g *Gateway) newAdmission(a config.Admission) (*admission, error) {
	if a.Shed == nil && a.Limit == nil {
		return nil, nil
	}
	adm := &admission{}
	if s := a.Shed; s != nil {
		sc := shed.Config{Name: "gateway", Capacity: s.MaxInFlight, RetryAfter: s.RetryAfter.Std(), Observer: g.observer}
		if p, ok := s.Thresholds["sheddable"]; ok {
			sc.SheddableShare = p.Fraction()
		}
		if p, ok := s.Thresholds["default"]; ok {
			sc.DefaultShare = p.Fraction()
		}
		sh, err := shed.New(sc)
		if err != nil {
			return nil, fmt.Errorf("admission.shed: %w", err)
		}
		adm.shedder = sh
	}
	if l := a.Limit; l != nil {
		lc := limit.Config{Name: "gateway", InitialLimit: l.Initial, MinLimit: l.Min, MaxLimit: l.Max, MaxQueue: l.MaxQueue, MaxWait: l.MaxWait.Std(), Observer: g.observer}
		switch l.Algorithm {
		case "aimd":
			lc.Algorithm = &limit.AIMD{}
		case "vegas":
			lc.Algorithm = &limit.Vegas{}
		default:
			lc.Algorithm = &limit.Gradient2{}
		}
		if l.QueueOrder == "lifo" {
			lc.QueueOrder = limit.LIFO
		}
		lim, err := limit.New(lc)
		if err != nil {
			return nil, fmt.Errorf("admission.limit: %w", err)
		}
		adm.limiter = lim
	}
	return adm, nil
}

func (g *Gateway) newRateLimit(rt *runtime, name string, rl *config.RateLimit) (rateLimiter, error) {
	key := parseRateKey(rl.Key)
	if rl.Store != "" {
		client, release, err := g.res.redis(rl.Store)
		if err != nil {
			return nil, err
		}
		rt.held = append(rt.held, release)
		return newSharedLimit(client, name, key, rl.Rate.PerSecond(), rl.Burst), nil
	}
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Name: name, Rate: rl.Rate.PerSecond(), Burst: rl.Burst, Observer: g.observer}})
	if err != nil {
		return nil, err
	}
	return &localLimit{rateKey: key, k: k}, nil
}

func (g *Gateway) newRoute(rt *runtime, rc *config.Route) (*route, error) {
	p, ok := rt.pools[rc.Upstream]
	if !ok {
		return nil, fmt.Errorf("upstream %q is not defined", rc.Upstream)
	}
	r := &route{
		g:        g,
		name:     rc.Name,
		match:    newMatcher(rc.Match),
		upstream: rc.Upstream,
		pool:     p.Pool,
		strip:    rc.StripPrefix,
		flag:     rc.Flag,
		maxBody:  rt.maxBody,
		fwd:      &rt.fwd,
	}
	if rc.Criticality != "" {
		c, err := shed.ParseCriticality(criticalityName(rc.Criticality))
		if err != nil {
			return nil, fmt.Errorf("criticality: %w", err)
		}
		r.crit, r.hasCrit = c, true
	}
	if rc.Fallback != nil {
		r.fallback = newFallback(rc.Fallback)
	}
	if rc.RateLimit != nil {
		lim, err := g.newRateLimit(rt, rc.Name, rc.RateLimit)
		if err != nil {
			return nil, fmt.Errorf("rate_limit: %w", err)
		}
		r.limiter = lim
	}

	tc, err := g.transportConfig(rc)
	if err != nil {
		return nil, err
	}
	// Per attempt: the pool, which injects faults and measures the attempt
	// once it chose the host (see newPool).
	tc.Base = p.Pool
	t, err := keelhttp.NewTransport(tc)
	if err != nil {
		return nil, err
	}
	var next http.RoundTripper = t
	if b := rc.Bulkhead; b != nil {
		bh, err := bulkhead.New(bulkhead.Config{Name: rc.Name, MaxConcurrent: b.MaxConcurrent, MaxQueue: b.MaxQueue, MaxWait: b.MaxWait.Std(), Observer: g.observer})
		if err != nil {
			return nil, fmt.Errorf("bulkhead: %w", err)
		}
		r.bulkhead = bh
		next = &bulkheadTransport{b: bh, next: next}
	}
	if c := rc.Cache; c != nil {
		cc, err := cache.New(cache.Config{
			Name:         rc.Name,
			Observer:     g.observer,
			TTL:          c.TTL.Std(),
			MaxStale:     c.MaxStale.Std(),
			ServeFresh:   c.ServeFresh,
			MaxEntries:   c.MaxEntries,
			MaxBodyBytes: c.MaxBodyBytes.Bytes(),
			Vary:         c.VaryHeaders,
		})
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		r.cache = cc
		r.cacheHeader = cache.DefaultHeader
		next = cc.Transport(next)
	}
	r.transport = next
	r.handler = http.HandlerFunc(r.proxy)
	if ic := rc.Idempotency; ic != nil {
		h, release, err := g.idempotent(rt, rc, ic, outliveClient(r.handler))
		if err != nil {
			return nil, fmt.Errorf("idempotency: %w", err)
		}
		rt.held = append(rt.held, release)
		r.handler = h
	}
	return r, nil
}

// failurePenalty maps the config's failure_penalty (absent: the default;
// 0s: off) onto upstream.Config.FailurePenalty (zero: the default;
// negative: off).
func failurePenalty(d *config.Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case *d == 0:
		return -1
	}
	return d.Std()
}

// criticalityName maps the config's five criticality names to shed's three
// classes.
func criticalityName(s string) string {
	switch s {
	case "critical_plus":
		return "critical"
	case "sheddable_plus":
		return "sheddable"
	}
	return s
}

// transportConfig maps a route's timeouts, retries and hedging onto
// keelhttp.TransportConfig. The per-host breakers live in the pool, so the
// Transport's own are off.
func (g *Gateway) transportConfig(rc *config.Route) (keelhttp.TransportConfig, error) {
	tc := keelhttp.TransportConfig{
		Name:           rc.Name,
		DisableBreaker: true,
		Observer:       g.observer,
		// The upstream request is built for the Transport alone (see
		// outgoing): attempts set their headers in it, with no copy.
		OwnHeader: true,
		// The client's traceparent (or the one traceRoot made) goes upstream
		// as it came: the gateway starts no span of its own to insert.
	}
	timeout := rc.Timeout.Std()
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	tc.Retry.MaxDuration = timeout
	tc.Retry.AttemptTimeout = rc.PerTryTimeout.Std()
	rcfg := rc.Retry
	if rcfg == nil {
		rcfg = &config.Retry{}
	}
	tc.Retry.MaxAttempts = rcfg.Attempts
	if tc.Retry.MaxAttempts == 0 {
		tc.Retry.MaxAttempts = 3
	}
	initial, maxb := rcfg.Backoff.Std(), rcfg.MaxBackoff.Std()
	if initial <= 0 {
		initial = 25 * time.Millisecond
	}
	if maxb <= 0 {
		maxb = time.Second
	}
	sched, err := backoff.New(backoff.Config{Initial: initial, Max: max(maxb, initial), Jitter: backoff.JitterFull})
	if err != nil {
		return tc, fmt.Errorf("retry: %w", err)
	}
	tc.Retry.Backoff = sched
	tc.Retry.MaxRetryAfter = rcfg.RetryAfterMax.Std()
	if tc.Retry.MaxRetryAfter <= 0 {
		tc.Retry.MaxRetryAfter = 10 * time.Second
	}
	bc := retry.BudgetConfig{MinPerSecond: rcfg.MinRetriesPerSecond}
	if p := rcfg.BudgetPercent; p != nil {
		bc.Ratio = p.Fraction()
	}
	if bc.Ratio >= 1 {
		tc.Retry.DisableBudget = true
	} else {
		budget, err := retry.NewBudget(bc)
		if err != nil {
			return tc, fmt.Errorf("retry.budget: %w", err)
		}
		tc.Retry.Budget = budget
	}
	on, statuses, err := parseRetryOn(rcfg.On)
	if err != nil {
		return tc, fmt.Errorf("retry.on: %w", err)
	}
	tc.RetryStatuses = statuses
	tc.Retry.Classifier = on.classify
	if h := rc.Hedge; h != nil {
		tc.Hedge = &hedge.Config{Name: rc.Name, Delay: h.Delay.Std(), Percentile: h.Percentile.Fraction(), MaxHedges: h.MaxHedges}
	}
	return tc, nil
}

// retryOn says which attempt errors a route retries (statuses are the
// Transport's RetryStatuses).
type retryOn struct {
	connect, reset, timeout bool
}

func parseRetryOn(items []string) (retryOn, []int, error) {
	if len(items) == 0 {
		items = []string{"connect_failure", "reset", "502", "503", "504"}
	}
	var on retryOn
	statuses := []int{}
	for _, it := range items {
		switch it {
		case "connect_failure":
			on.connect = true
		case "reset":
			on.reset = true
		case "timeout":
			on.timeout = true
		case "5xx":
			for s := 500; s < 600; s++ {
				statuses = append(statuses, s)
			}
		default:
			s, err := strconv.Atoi(it)
			if err != nil || s < 100 || s > 599 {
				return on, nil, fmt.Errorf("unknown retry condition %q", it)
			}
			statuses = append(statuses, s)
		}
	}
	return on, statuses, nil
}

// classify judges one attempt's error for the retry policy: statuses the
// route retries are failures (the Transport only reports those), and
// connection errors and per-try timeouts are failures only when the route
// retries that kind; anything else is permanent.
func (on retryOn) classify(ctx context.Context, err error) keel.Outcome {
	if err == nil {
		return keel.OutcomeSuccess
	}
	var se *keelhttp.StatusError
	switch {
	case errors.As(err, &se):
		return keel.OutcomeFailure
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return keel.DefaultClassifier(ctx, err) // the caller gave up
	case errors.Is(err, breaker.ErrOpen):
		// The pool returns an open breaker only when every host it could
		// pick refused. Retrying would wait for the breaker's Retry-After
		// (the retry policy honors hints up to retry_after_max), holding
		// the request, its stale copy or its fallback for seconds; answer
		// now and let the client see the Retry-After instead.
		return keel.OutcomePermanent
	case errors.Is(err, upstream.ErrNoHost), errors.Is(err, keel.ErrRejected):
		// No host now, or the upstream's bulkhead refused: another try,
		// after backoff, may find one.
		return keel.OutcomeFailure
	case isDialError(err):
		if on.connect {
			return keel.OutcomeFailure
		}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		if on.timeout {
			return keel.OutcomeFailure
		}
	default:
		if on.reset {
			return keel.OutcomeFailure
		}
	}
	return keel.OutcomePermanent
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// idempotent wraps h in the idempotency middleware of a route.
func (g *Gateway) idempotent(rt *runtime, rc *config.Route, ic *config.Idempotency, h http.Handler) (http.Handler, func(), error) {
	url := ic.Store
	if url == "" {
		url = rt.cfg.Stores.Idempotency
	}
	store, release, err := g.res.store(url, rt.cfg.Stores.DataDir)
	if err != nil {
		return nil, nil, err
	}
	c := idempotency.Config{
		Name:               rc.Name,
		Observer:           g.observer,
		Store:              store,
		Methods:            ic.Methods,
		RequireKey:         ic.Required,
		Lease:              ic.Lease.Std(),
		Retention:          ic.Retention.Std(),
		MaxWait:            ic.MaxWait.Std(),
		FingerprintHeaders: ic.FingerprintHeaders,
		FailOpen:           ic.FailOpen,
		Route:              func(*http.Request) string { return rc.Name },
	}
	if ic.Persistence != "" {
		p, err := idempotency.ParsePersistence(ic.Persistence)
		if err != nil {
			release()
			return nil, nil, err
		}
		c.Persistence = p
	}
	switch s := ic.Scope; {
	case s == "none":
		c.Unscoped = true
	case strings.HasPrefix(s, "header:"):
		name := http.CanonicalHeaderKey(strings.TrimPrefix(s, "header:"))
		c.Scope = func(r *http.Request) (string, error) {
			v := r.Header.Get(name)
			if v == "" {
				return "", fmt.Errorf("missing %s header", name)
			}
			return "h:" + v, nil
		}
	}
	m, err := idempotency.New(c)
	if err != nil {
		release()
		return nil, nil, err
	}
	return m.Wrap(h), release, nil
}

// outliveClient runs h without the client's cancellation for a request
// whose Idempotency-Key the middleware claimed: once such a request may have
// reached the upstream, its outcome must be stored, or the client's retry
// would get a 499 frozen in the store (the middleware stores 4xx answers) or,
// if that were released, send the operation a second time. The route's
// timeout still bounds the request.
func outliveClient(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := idempotency.ClaimFromContext(r.Context()); ok {
			r = r.WithContext(context.WithoutCancel(r.Context()))
		}
		h.ServeHTTP(w, r)
	})
}

// bulkheadTransport holds a route's bulkhead permit from sending a request
// until its response body is closed.
type bulkheadTransport struct {
	b    *bulkhead.Bulkhead
	next http.RoundTripper
}

func (t *bulkheadTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	permit, err := t.b.Acquire(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		permit.Release()
		return nil, err
	}
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: permit.Release}
	return resp, nil
}

// releaseBody calls release once, when the body is closed.
type releaseBody struct {
	io.ReadCloser
	release func()
	done    atomic.Bool
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	if b.done.CompareAndSwap(false, true) {
		b.release()
	}
	return err
}
