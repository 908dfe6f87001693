package config

import (
	"math"
	"strings"
	"time"
)

// ApplyDefaults replaces the zero fields of c with their defaults, as Parse
// does, so that a Config built in Go reads like a parsed one. It is
// idempotent. Absent sections that default to on (upstream outlier and
// breaker, route retry) are filled in; other absent sections stay nil.
func (c *Config) ApplyDefaults() { c.setDefaults() }

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func dur(d time.Duration) Duration { return Duration(d) }

func boolPtr(b bool) *bool { return &b }

func (c *Config) setDefaults() {
	l := &c.Listen
	l.Address = or(l.Address, "127.0.0.1:8080")
	if l.HTTP2 == nil {
		l.HTTP2 = boolPtr(true)
	}
	if l.TLS != nil {
		l.TLS.MinVersion = or(l.TLS.MinVersion, "1.2")
	}
	l.ReadHeaderTimeout = or(l.ReadHeaderTimeout, dur(10*time.Second))
	l.ReadTimeout = or(l.ReadTimeout, dur(60*time.Second))
	l.IdleTimeout = or(l.IdleTimeout, dur(120*time.Second))
	l.MaxHeaderBytes = or(l.MaxHeaderBytes, 64<<10)
	l.MaxBodyBytes = or(l.MaxBodyBytes, 10<<20)
	l.DrainTimeout = or(l.DrainTimeout, dur(30*time.Second))

	c.Admin.Address = or(c.Admin.Address, "127.0.0.1:9901")

	t := &c.Telemetry
	if t.AccessLog == nil {
		t.AccessLog = boolPtr(true)
	}
	if t.Metrics == nil {
		t.Metrics = boolPtr(true)
	}
	t.LogFormat = or(t.LogFormat, "json")
	t.LogLevel = or(t.LogLevel, "info")
	t.ServiceName = or(t.ServiceName, "keel-gateway")

	a := &c.Admission
	a.CriticalityHeader = or(a.CriticalityHeader, "Keel-Criticality")
	if s := a.Shed; s != nil {
		s.MaxInFlight = or(s.MaxInFlight, 100)
		if s.Thresholds == nil {
			s.Thresholds = map[string]Percent{}
		}
		if _, ok := s.Thresholds["default"]; !ok {
			s.Thresholds["default"] = 0.8
		}
		if _, ok := s.Thresholds["sheddable"]; !ok {
			s.Thresholds["sheddable"] = min(0.5, s.Thresholds["default"])
		}
		s.RetryAfter = or(s.RetryAfter, dur(time.Second))
	}
	if al := a.Limit; al != nil {
		al.Algorithm = or(al.Algorithm, "gradient2")
		al.Min = or(al.Min, 1)
		al.Max = or(al.Max, 1000)
		al.Initial = or(al.Initial, min(max(20, al.Min), al.Max))
		al.QueueOrder = or(al.QueueOrder, "fifo")
	}
	a.RateLimit.setDefaults()

	for name, f := range c.Flags {
		if f.Enabled == nil {
			f.Enabled = boolPtr(true)
		}
		if f.Percent == nil {
			p := Percent(1)
			f.Percent = &p
		}
		c.Flags[name] = f
	}

	c.Stores.DataDir = or(c.Stores.DataDir, "./keel-data")

	for name, u := range c.Upstreams {
		u.setDefaults()
		c.Upstreams[name] = u
	}
	for i := range c.Routes {
		c.Routes[i].setDefaults(c.Stores.Idempotency)
	}
}

func (r *RateLimit) setDefaults() {
	if r != nil && r.Burst == 0 && r.Rate.Limit > 0 {
		r.Burst = int(min(math.Ceil(r.Rate.Limit), math.MaxInt32))
	}
}

func (u *Upstream) setDefaults() {
	u.Scheme = or(u.Scheme, "http")
	u.DNSRefresh = or(u.DNSRefresh, dur(30*time.Second))
	u.Balancer = or(u.Balancer, "peak_ewma")
	u.ConnectTimeout = or(u.ConnectTimeout, dur(2*time.Second))
	u.MaxIdleConnsPerHost = or(u.MaxIdleConnsPerHost, 64)
	u.IdleConnTimeout = or(u.IdleConnTimeout, dur(90*time.Second))
	if h := u.HealthCheck; h != nil {
		h.Interval = or(h.Interval, dur(5*time.Second))
		h.Jitter = or(h.Jitter, 0.1)
		h.Timeout = or(h.Timeout, dur(time.Second))
		h.HealthyThreshold = or(h.HealthyThreshold, 2)
		h.UnhealthyThreshold = or(h.UnhealthyThreshold, 3)
	}
	if u.Outlier == nil {
		u.Outlier = &Outlier{}
	}
	o := u.Outlier
	o.Interval = or(o.Interval, dur(10*time.Second))
	o.Consecutive5xx = or(o.Consecutive5xx, 5)
	o.ConsecutiveConnectFailures = or(o.ConsecutiveConnectFailures, 3)
	o.BaseEjectionTime = or(o.BaseEjectionTime, dur(30*time.Second))
	o.MaxEjectionTime = or(o.MaxEjectionTime, dur(300*time.Second))
	o.MaxEjectionPercent = or(o.MaxEjectionPercent, 0.5)
	o.PanicThreshold = or(o.PanicThreshold, 0.5)
	if s := o.SuccessRate; s != nil {
		s.MinHosts = or(s.MinHosts, 5)
		s.MinRequests = or(s.MinRequests, 100)
		s.StdevFactor = or(s.StdevFactor, 1.9)
	}
	if lo := o.Latency; lo != nil {
		lo.Factor = or(lo.Factor, 3)
		lo.MinRequests = or(lo.MinRequests, 20)
		lo.MinHosts = or(lo.MinHosts, 2)
		lo.Threshold = or(lo.Threshold, dur(50*time.Millisecond))
	}
	if u.Breaker == nil {
		u.Breaker = &Breaker{}
	}
	b := u.Breaker
	b.FailureRate = or(b.FailureRate, 0.5)
	b.MinimumCalls = or(b.MinimumCalls, 20)
	if b.WindowDuration == 0 {
		b.Window = or(b.Window, 100)
	}
	if b.SlowCall > 0 {
		b.SlowCallRate = or(b.SlowCallRate, 1)
	}
	b.OpenDuration = or(b.OpenDuration, dur(30*time.Second))
	b.HalfOpenPermits = or(b.HalfOpenPermits, 5)
}

func (r *Route) setDefaults(store string) {
	if r.Match.Path == "" {
		r.Match.PathPrefix = or(r.Match.PathPrefix, "/")
	}
	r.Timeout = or(r.Timeout, dur(15*time.Second))
	r.Criticality = or(r.Criticality, "default")
	if r.Retry == nil {
		r.Retry = &Retry{}
	}
	rt := r.Retry
	rt.Attempts = or(rt.Attempts, 3)
	if rt.On == nil {
		rt.On = []string{"connect_failure", "reset", "502", "503", "504"}
	}
	rt.Backoff = or(rt.Backoff, dur(25*time.Millisecond))
	rt.MaxBackoff = or(rt.MaxBackoff, dur(time.Second))
	if rt.BudgetPercent == nil || *rt.BudgetPercent == 0 {
		p := Percent(0.2)
		rt.BudgetPercent = &p
	}
	rt.MinRetriesPerSecond = or(rt.MinRetriesPerSecond, 10)
	rt.RetryAfterMax = or(rt.RetryAfterMax, dur(10*time.Second))
	if h := r.Hedge; h != nil {
		h.MaxHedges = or(h.MaxHedges, 1)
	}
	r.RateLimit.setDefaults()
	if id := r.Idempotency; id != nil {
		id.Store = or(id.Store, store)
		if id.Methods == nil {
			id.Methods = []string{"POST", "PATCH"}
		}
		id.Lease = or(id.Lease, dur(30*time.Second))
		id.Retention = or(id.Retention, dur(24*time.Hour))
		id.Persistence = or(id.Persistence, "safe-default")
		id.Scope = or(id.Scope, "credential")
	}
	if ca := r.Cache; ca != nil {
		ca.TTL = or(ca.TTL, dur(10*time.Second))
		ca.MaxStale = or(ca.MaxStale, dur(10*time.Minute))
		ca.MaxEntries = or(ca.MaxEntries, 1000)
		ca.MaxBodyBytes = or(ca.MaxBodyBytes, 1<<20)
	}
	if fb := r.Fallback; fb != nil {
		fb.Status = or(fb.Status, 200)
		if fb.BodyFile == "" {
			fb.ContentType = or(fb.ContentType, contentTypeOf(fb.Body))
		}
		if fb.On == nil {
			fb.On = []string{"error", "5xx"}
		}
	}
}

// contentTypeOf is the default Content-Type of a fallback body.
func contentTypeOf(body string) string {
	if s := strings.TrimSpace(body); strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}
