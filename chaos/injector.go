package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures an [Injector]. The zero Config is valid: an Injector with
// no faults, header-driven faults off, no cap on active faults and a random
// seed. Its data fields read and write as JSON and YAML.
type Config struct {
	// Name identifies the Injector in logs and injections. Optional.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`

	// Faults are the faults the Injector starts with. Each must be valid;
	// IDs must be unique.
	Faults []Fault `json:"faults,omitempty" yaml:"faults,omitempty"`

	// Seed seeds the generator behind Percent draws and jitter, so that a
	// run can be replayed: the same seed and the same sequence of requests
	// give the same faults. Zero picks a random seed. The seed in use is
	// logged when the Injector is created and returned by Injector.Seed.
	Seed uint64 `json:"seed,omitempty" yaml:"seed,omitempty"`

	// MaxActive caps the number of requests with an injected fault at once
	// (Envoy's max_active_faults): a request that would get a fault while
	// MaxActive others have one goes through untouched and is counted in
	// Stats.Overflow. Zero means no cap.
	MaxActive int `json:"max_active,omitempty" yaml:"max_active,omitempty"`

	// Headers lets each request ask for faults with X-Keel-Fault-* headers.
	// Off unless Headers.Enabled is set.
	Headers HeaderConfig `json:"headers,omitzero" yaml:"headers,omitempty"`

	// OnInject, if set, is called for every fault injected, on the
	// request's goroutine, before the fault takes effect. It must be safe for
	// concurrent use and must not block.
	OnInject func(ctx context.Context, inj Injection) `json:"-" yaml:"-"`

	// Logger receives the seed at creation. Nil means slog.Default().
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// HeaderConfig configures header-driven faults, modeled on Envoy's
// x-envoy-fault-* headers. Anyone who can send a request can then slow it or
// fail it: enable them only where clients are trusted, and set
// Config.MaxActive.
type HeaderConfig struct {
	// Enabled makes the middleware and the transport honor the request
	// headers HeaderDelay, HeaderAbortStatus, HeaderThroughput and
	// HeaderPercent. Default false: the headers are ignored.
	Enabled bool `json:"enabled" yaml:"enabled"`
	// MaxDelay caps the delay a request may ask for. Zero means 10s.
	MaxDelay Duration `json:"max_delay,omitempty" yaml:"max_delay,omitempty"`
}

// The request headers of header-driven faults (see HeaderConfig).
const (
	// HeaderDelay asks for a delay of the given number of milliseconds.
	HeaderDelay = "X-Keel-Fault-Delay-Ms"
	// HeaderAbortStatus asks for the request to be answered with the given
	// HTTP status, in [200, 600).
	HeaderAbortStatus = "X-Keel-Fault-Abort-Status"
	// HeaderThroughput asks for the response body to be throttled to the
	// given number of bytes per second.
	HeaderThroughput = "X-Keel-Fault-Throughput"
	// HeaderPercent is the chance, in percent, that the faults the other
	// headers ask for are injected. Default 100.
	HeaderPercent = "X-Keel-Fault-Percent"
)

// headerFaultID is the Fault ID of injections asked for by headers.
const headerFaultID = "header"

const defaultMaxHeaderDelay = 10 * time.Second

// Validate reports the first invalid field of c, or nil.
func (c *Config) Validate() error {
	if c.MaxActive < 0 {
		return fmt.Errorf("chaos: Config.MaxActive must be >= 0, got %d", c.MaxActive)
	}
	if c.Headers.MaxDelay < 0 {
		return fmt.Errorf("chaos: Config.Headers.MaxDelay must be >= 0, got %v", c.Headers.MaxDelay)
	}
	ids := make(map[string]bool, len(c.Faults))
	for i := range c.Faults {
		f := &c.Faults[i]
		if err := f.Validate(); err != nil {
			return fmt.Errorf("chaos: Config.Faults[%d]: %w", i, err)
		}
		if f.ID != "" {
			if ids[f.ID] {
				return fmt.Errorf("chaos: Config.Faults[%d]: duplicate ID %q", i, f.ID)
			}
			ids[f.ID] = true
		}
	}
	return nil
}

// Injection describes one fault injected into one request, for
// Config.OnInject.
type Injection struct {
	// Injector is the Injector's Config.Name.
	Injector string
	// Fault is the fault's ID ("header" for header-driven faults).
	Fault string
	// Kind is the fault's kind.
	Kind Kind
	// Delay is the delay of a latency fault, after jitter.
	Delay time.Duration
	// Status is the HTTP status of an error fault.
	Status int
	// BytesPerSecond is the rate of a bandwidth fault.
	BytesPerSecond int64
}

// Stats counts what an Injector did, with Envoy's fault filter's names in
// mind (delays_injected, aborts_injected, faults_overflow, active_faults).
type Stats struct {
	DelaysInjected    uint64 // latency faults
	ErrorsInjected    uint64 // error faults (HTTP statuses and Go errors)
	AbortsInjected    uint64 // connection resets
	TimeoutsInjected  uint64 // black holes
	ThrottlesInjected uint64 // bandwidth limits
	Overflow          uint64 // faults skipped because of MaxActive
	Active            int64  // requests with a fault right now
}

// Injector injects a set of faults into operations (as a keel.Policy), into
// HTTP handlers (Middleware) and into HTTP clients (Transport). Faults can be
// added, removed and listed while it runs.
//
// The zero Injector is not usable; create one with [New]. An Injector is
// safe for concurrent use. With no fault that matches, it costs a pointer
// load and allocates nothing.
type Injector struct {
	name           string
	seed           uint64
	maxActive      int64
	headers        bool
	maxHeaderDelay time.Duration
	onInject       func(context.Context, Injection)

	faults atomic.Pointer[[]*entry] // immutable snapshot, swapped whole

	mu     sync.Mutex // serializes changes to faults
	nextID int

	rngMu sync.Mutex
	rng   *rand.Rand

	active                                                atomic.Int64
	delays, errs, aborts, timeouts, throttles, overflowed atomic.Uint64
}

// entry is a validated fault as the Injector holds it.
type entry struct {
	f   Fault
	pct float64
}

// New returns an Injector configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Injector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	in := &Injector{
		name:           cfg.Name,
		seed:           seed,
		maxActive:      int64(cfg.MaxActive),
		headers:        cfg.Headers.Enabled,
		maxHeaderDelay: time.Duration(cfg.Headers.MaxDelay),
		onInject:       cfg.OnInject,
		rng:            rand.New(rand.NewPCG(seed, seed)),
	}
	if in.maxHeaderDelay == 0 {
		in.maxHeaderDelay = defaultMaxHeaderDelay
	}
	empty := []*entry{}
	in.faults.Store(&empty)
	if err := in.Replace(cfg.Faults); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Info("chaos: injector created", slog.String("name", cfg.Name), slog.Uint64("seed", seed),
		slog.Int("faults", len(cfg.Faults)))
	return in, nil
}

// MustNew is like New but panics if cfg is invalid. It is meant for
// configurations fixed in code.
func MustNew(cfg Config) *Injector {
	in, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return in
}

// Seed returns the seed of the Injector's generator.
func (in *Injector) Seed() uint64 { return in.seed }

// Add validates f and adds it after the faults already there. It returns
// the fault as stored: with its ID assigned if it had none, and with
// Duration turned into Until. Adding an ID that exists is an error.
func (in *Injector) Add(f Fault) (Fault, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	e, err := in.newEntryLocked(f, now)
	if err != nil {
		return Fault{}, err
	}
	old := *in.faults.Load()
	next := make([]*entry, 0, len(old)+1)
	for _, o := range old {
		if o.f.ID == e.f.ID {
			return Fault{}, fmt.Errorf("chaos: fault %q already exists", e.f.ID)
		}
		if !o.expired(now) {
			next = append(next, o)
		}
	}
	next = append(next, e)
	in.faults.Store(&next)
	return e.clone(), nil
}

// Remove removes the fault with the given ID and reports whether there was
// one. Requests already delayed or hanging by it are not cut short.
func (in *Injector) Remove(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	old := *in.faults.Load()
	next := make([]*entry, 0, len(old))
	found := false
	for _, o := range old {
		if o.f.ID == id {
			found = true
			continue
		}
		next = append(next, o)
	}
	if found {
		in.faults.Store(&next)
	}
	return found
}

// Replace replaces all faults with faults, atomically: if one is invalid,
// nothing changes. Replace(nil) removes every fault.
func (in *Injector) Replace(faults []Fault) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	next := make([]*entry, 0, len(faults))
	ids := make(map[string]bool, len(faults))
	for i, f := range faults {
		e, err := in.newEntryLocked(f, now)
		if err != nil {
			return fmt.Errorf("chaos: fault %d: %w", i, err)
		}
		if ids[e.f.ID] {
			return fmt.Errorf("chaos: fault %d: duplicate ID %q", i, e.f.ID)
		}
		ids[e.f.ID] = true
		next = append(next, e)
	}
	in.faults.Store(&next)
	return nil
}

// List returns the faults that have not expired, in the order they apply.
func (in *Injector) List() []Fault {
	now := time.Now()
	snap := *in.faults.Load()
	out := make([]Fault, 0, len(snap))
	for _, e := range snap {
		if !e.expired(now) {
			out = append(out, e.clone())
		}
	}
	return out
}

// Stats returns the Injector's counters.
func (in *Injector) Stats() Stats {
	return Stats{
		DelaysInjected:    in.delays.Load(),
		ErrorsInjected:    in.errs.Load(),
		AbortsInjected:    in.aborts.Load(),
		TimeoutsInjected:  in.timeouts.Load(),
		ThrottlesInjected: in.throttles.Load(),
		Overflow:          in.overflowed.Load(),
		Active:            in.active.Load(),
	}
}

func (in *Injector) newEntryLocked(f Fault, now time.Time) (*entry, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.ID == "" {
		in.nextID++
		f.ID = string(f.Kind) + "-" + strconv.Itoa(in.nextID)
	}
	e := &entry{f: f, pct: 100}
	if f.Percent != nil {
		e.pct = *f.Percent
		e.f.Percent = Percent(e.pct)
	}
	if f.Headers != nil {
		e.f.Headers = make(map[string]string, len(f.Headers))
		for k, v := range f.Headers {
			e.f.Headers[textproto.CanonicalMIMEHeaderKey(k)] = v
		}
	}
	if f.Duration > 0 {
		e.f.Until = now.Add(time.Duration(f.Duration))
		e.f.Duration = 0
	}
	return e, nil
}

func (e *entry) expired(now time.Time) bool {
	return !e.f.Until.IsZero() && !now.Before(e.f.Until)
}

func (e *entry) clone() Fault {
	f := e.f
	if f.Percent != nil {
		f.Percent = Percent(*f.Percent)
	}
	if f.Headers != nil {
		f.Headers = maps.Clone(f.Headers)
	}
	return f
}

// draw reports whether an event with chance pct percent happens.
func (in *Injector) draw(pct float64) bool {
	if pct >= 100 {
		return true
	}
	if pct <= 0 {
		return false
	}
	in.rngMu.Lock()
	v := in.rng.Float64()
	in.rngMu.Unlock()
	return v*100 < pct
}

// jitter returns d spread uniformly over [d-j, d+j], at least 0.
func (in *Injector) jitter(d, j time.Duration) time.Duration {
	if j <= 0 {
		return d
	}
	in.rngMu.Lock()
	v := in.rng.Int64N(2*int64(j) + 1)
	in.rngMu.Unlock()
	return max(d+time.Duration(v)-j, 0)
}

// maxFired bounds the injections a plan records for OnInject.
const maxFired = 8

// plan is what the Injector does to one request. It lives on the stack.
type plan struct {
	delay time.Duration

	term    Kind // KindError, KindAbort, KindTimeout or ""
	termID  string
	status  int
	body    string
	err     error
	maxHang time.Duration

	rate   int64
	rateID string

	fired  [maxFired]Injection
	nfired int
}

func (p *plan) record(inj Injection) {
	if p.nfired < maxFired {
		p.fired[p.nfired] = inj
		p.nfired++
	}
}

func (p *plan) empty() bool { return p.delay == 0 && p.term == "" && p.rate == 0 }

// scope says which faults a caller can apply.
type scope uint8

const (
	scopeOp   scope = iota // the policy: no request, no body
	scopeHTTP              // the middleware and the transport
)

// decide draws the faults for one request. path and h are "" and nil for
// the policy, and so is host, the request's host:port; the route comes from
// ctx (WithRoute). It reports
// false, having drawn nothing, when no fault applies.
func (in *Injector) decide(ctx context.Context, host, path string, h map[string][]string, sc scope, p *plan) bool {
	snap := *in.faults.Load()
	if len(snap) == 0 && (!in.headers || h == nil) {
		return false
	}
	var now time.Time
	route, routeRead := "", false
	for _, e := range snap {
		f := &e.f
		if f.Route != "" {
			if !routeRead {
				route, routeRead = RouteFrom(ctx), true
			}
			if f.Route != route {
				continue
			}
		}
		if sc == scopeOp && (f.PathPrefix != "" || f.Host != "" || len(f.Headers) > 0 || f.Kind == KindBandwidth) {
			continue
		}
		if f.Host != "" && f.Host != host {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		if !f.Until.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			if !now.Before(f.Until) {
				continue
			}
		}
		if !headersMatch(h, f.Headers) {
			continue
		}
		if p.term != "" && (f.Kind == KindError || f.Kind == KindAbort || f.Kind == KindTimeout) {
			continue // one terminal fault per request: the first that fires
		}
		if !in.draw(e.pct) {
			continue
		}
		in.addToPlan(p, f)
	}
	if in.headers && h != nil {
		in.decideHeaders(h, p)
	}
	return !p.empty()
}

func (in *Injector) addToPlan(p *plan, f *Fault) {
	inj := Injection{Injector: in.name, Fault: f.ID, Kind: f.Kind}
	switch f.Kind {
	case KindLatency:
		d := in.jitter(time.Duration(f.Latency), time.Duration(f.Jitter))
		p.delay += d
		inj.Delay = d
	case KindError:
		p.term, p.termID, p.err = KindError, f.ID, f.Err
		p.status, p.body = f.Status, f.Body
		if p.status == 0 {
			p.status = 500
		}
		inj.Status = p.status
	case KindAbort:
		p.term, p.termID = KindAbort, f.ID
	case KindTimeout:
		p.term, p.termID, p.maxHang = KindTimeout, f.ID, time.Duration(f.MaxHang)
	case KindBandwidth:
		if p.rate == 0 || f.BytesPerSecond < p.rate {
			p.rate, p.rateID = f.BytesPerSecond, f.ID
		}
		inj.BytesPerSecond = f.BytesPerSecond
	}
	p.record(inj)
}

// decideHeaders adds the faults a request asks for with headers.
func (in *Injector) decideHeaders(h map[string][]string, p *plan) {
	delay, hasDelay := headerInt(h, HeaderDelay)
	status, hasStatus := headerInt(h, HeaderAbortStatus)
	rate, hasRate := headerInt(h, HeaderThroughput)
	hasDelay = hasDelay && delay > 0
	hasStatus = hasStatus && status >= 200 && status < 600 && p.term == ""
	hasRate = hasRate && rate > 0
	if !hasDelay && !hasStatus && !hasRate {
		return
	}
	pct := 100.0
	if v := h[HeaderPercent]; len(v) > 0 {
		f, err := strconv.ParseFloat(v[0], 64)
		if err != nil || !(f >= 0) {
			return
		}
		pct = min(f, 100)
	}
	if !in.draw(pct) {
		return
	}
	if hasDelay {
		d := min(time.Duration(delay)*time.Millisecond, in.maxHeaderDelay)
		p.delay += d
		p.record(Injection{Injector: in.name, Fault: headerFaultID, Kind: KindLatency, Delay: d})
	}
	if hasStatus {
		p.term, p.termID, p.status = KindError, headerFaultID, int(status)
		p.record(Injection{Injector: in.name, Fault: headerFaultID, Kind: KindError, Status: int(status)})
	}
	if hasRate && (p.rate == 0 || rate < p.rate) {
		p.rate, p.rateID = rate, headerFaultID
		p.record(Injection{Injector: in.name, Fault: headerFaultID, Kind: KindBandwidth, BytesPerSecond: rate})
	}
}

func headerInt(h map[string][]string, key string) (int64, bool) {
	v := h[key]
	if len(v) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
	return n, err == nil
}

// headersMatch reports whether h has every header of want with its value.
func headersMatch(h map[string][]string, want map[string]string) bool {
	if len(want) == 0 {
		return true
	}
	if h == nil {
		return false
	}
	for k, v := range want {
		got := h[k] // keys are canonical (newEntryLocked)
		if len(got) == 0 || got[0] != v {
			return false
		}
	}
	return true
}

// start admits a decided plan under MaxActive, counts it and reports its
// injections. It reports false if the plan must be dropped.
func (in *Injector) start(ctx context.Context, p *plan) bool {
	if n := in.active.Add(1); in.maxActive > 0 && n > in.maxActive {
		in.active.Add(-1)
		in.overflowed.Add(1)
		return false
	}
	for i := range p.nfired {
		switch p.fired[i].Kind {
		case KindLatency:
			in.delays.Add(1)
		case KindError:
			in.errs.Add(1)
		case KindAbort:
			in.aborts.Add(1)
		case KindTimeout:
			in.timeouts.Add(1)
		case KindBandwidth:
			in.throttles.Add(1)
		}
		if in.onInject != nil {
			in.onInject(ctx, p.fired[i])
		}
	}
	return true
}

// end is called once a started plan's request is over.
func (in *Injector) end() { in.active.Add(-1) }

// sleep waits for d or until ctx ends, and returns ctx's error if it did.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hang waits until ctx ends, or for max if max > 0. It returns ctx's error if
// ctx ended it.
func hang(ctx context.Context, max time.Duration) error {
	if max <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	return sleep(ctx, max)
}

type routeKey struct{}

// WithRoute returns a context that names the route a request belongs to,
// for faults with a Route.
func WithRoute(ctx context.Context, route string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// RouteFrom returns the route WithRoute put in ctx, or "".
func RouteFrom(ctx context.Context) string {
	s, _ := ctx.Value(routeKey{}).(string)
	return s
}
