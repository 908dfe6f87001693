package config

import (
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel/chaos"
)

// Validate checks c as Parse would after decoding: names, references
// between routes, upstreams and flags, ranges, and pairs of keys that go
// together or exclude each other. Zero fields count as their defaults, so
// it accepts a Config built in Go with or without ApplyDefaults. It reports
// every problem as an *Error (joined with errors.Join when there are
// several); a parsed Config's errors carry the file position of the key.
func (c *Config) Validate() error {
	var errs errList
	checkEnums(&errs, "", reflect.ValueOf(c).Elem())
	c.Listen.validate(&errs)
	c.Admin.validate(&errs)
	c.Admission.validate(&errs)
	for name := range c.Flags {
		checkName(&errs, "flags."+name, "flag", name)
	}
	if s := c.Stores.Idempotency; s != "" {
		checkStoreURL(&errs, "stores.idempotency", s)
	}
	for name, u := range c.Upstreams {
		u.validate(&errs, "upstreams."+name, name)
	}
	if len(c.Routes) == 0 {
		errs.add("routes", "at least one route is required")
	}
	names := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := "routes[" + strconv.Itoa(i) + "]"
		if j, dup := names[r.Name]; dup && r.Name != "" {
			errs.add(p+".name", "duplicate route name %q (also routes[%d])", r.Name, j)
		} else {
			names[r.Name] = i
		}
		r.validate(&errs, p, c)
	}
	if ch := c.Chaos; ch != nil {
		ch.validate(&errs, c)
	}
	return c.locate(errs)
}

func (ch *Chaos) validate(errs *errList, c *Config) {
	if ch.MaxActive < 0 {
		errs.add("chaos.max_active", "must not be negative")
	}
	ids := map[string]int{}
	for i := range ch.Faults {
		f := &ch.Faults[i]
		p := "chaos.faults[" + strconv.Itoa(i) + "]"
		if j, dup := ids[f.ID]; dup && f.ID != "" {
			errs.add(p+".id", "duplicate fault id %q (also chaos.faults[%d])", f.ID, j)
		} else {
			ids[f.ID] = i
		}
		if f.Route != "" && !c.hasRoute(f.Route) {
			errs.add(p+".route", "unknown route %q", f.Route)
		}
		cf := f.Chaos()
		if err := cf.Validate(); err != nil {
			errs.add(p, "%s", strings.TrimPrefix(err.Error(), "chaos: "))
		}
	}
}

func (c *Config) hasRoute(name string) bool {
	for i := range c.Routes {
		if c.Routes[i].Name == name {
			return true
		}
	}
	return false
}

// Chaos returns the fault as package chaos has it.
func (f *Fault) Chaos() chaos.Fault {
	cf := chaos.Fault{
		ID:             f.ID,
		Kind:           chaos.Kind(f.Kind),
		Latency:        chaos.Duration(f.Latency),
		Jitter:         chaos.Duration(f.Jitter),
		Status:         f.Status,
		Body:           f.Body,
		MaxHang:        chaos.Duration(f.MaxHang),
		BytesPerSecond: f.BytesPerSecond.Bytes(),
		Route:          f.Route,
		Host:           f.Host,
		PathPrefix:     f.PathPrefix,
		Headers:        f.Headers,
		Duration:       chaos.Duration(f.Duration),
	}
	if f.Percent != nil {
		cf.Percent = chaos.Percent(f.Percent.Fraction() * 100)
	}
	return cf
}

var nameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

func checkName(errs *errList, key, what, name string) {
	if !nameRE.MatchString(name) {
		errs.add(key, "invalid %s name %q: use lower-case letters, digits, _ and -", what, name)
	}
}

// checkEnums checks every string field with an enum tag, anywhere in v.
func checkEnums(errs *errList, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			checkEnums(errs, path, v.Elem())
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			p := join2(path, name)
			if enum, ok := f.Tag.Lookup("enum"); ok {
				if s := v.Field(i).String(); s != "" && !slices.Contains(strings.Split(enum, ","), s) {
					errs.add(p, "unknown value %q: want one of %s%s", s, strings.ReplaceAll(enum, ",", ", "), didYouMean(s, strings.Split(enum, ",")))
				}
				continue
			}
			checkEnums(errs, p, v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkEnums(errs, path+"["+strconv.Itoa(i)+"]", v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			checkEnums(errs, join2(path, k.String()), v.MapIndex(k))
		}
	}
}

func checkNonNegative(errs *errList, key string, d Duration) {
	if d < 0 {
		errs.add(key, "must not be negative, got %v", d)
	}
}

func checkMin(errs *errList, key string, v, lo int) {
	if v < lo {
		errs.add(key, "must be at least %d, got %d", lo, v)
	}
}

func checkRange(errs *errList, key string, v, lo, hi int) {
	if v < lo || v > hi {
		errs.add(key, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func checkPercent(errs *errList, key string, p Percent) {
	if !(p >= 0 && p <= 1) {
		errs.add(key, "must be between 0%% and 100%%, got %v", p)
	}
}

// checkHostPort checks "host:port"; allowEmptyHost admits ":8080".
func checkHostPort(errs *errList, key, s string, allowEmptyHost bool) (host string, ok bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		errs.add(key, "invalid address %q: want host:port", s)
		return "", false
	}
	// A listener may ask for port 0 (any free port, as tests do); a
	// target must name a real one.
	minPort := 1
	if allowEmptyHost {
		minPort = 0
	}
	if n, err := strconv.Atoi(port); err != nil || n < minPort || n > 65535 {
		errs.add(key, "invalid port in %q: want %d to 65535", s, minPort)
		return "", false
	}
	if host == "" && !allowEmptyHost {
		errs.add(key, "missing host in %q", s)
		return "", false
	}
	if host != "" && !validHost(host) {
		errs.add(key, "invalid host in %q", s)
		return "", false
	}
	return host, true
}

var hostnameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$`)

func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return len(h) <= 253 && hostnameRE.MatchString(h)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// token is the RFC 9110 token syntax of header names and methods.
var tokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func checkHeaderName(errs *errList, key, name string) {
	if !tokenRE.MatchString(name) {
		errs.add(key, "invalid header name %q", name)
	}
}

func checkMethods(errs *errList, key string, methods []string) {
	for i, m := range methods {
		k := key + "[" + strconv.Itoa(i) + "]"
		switch {
		case !tokenRE.MatchString(m):
			errs.add(k, "invalid method %q", m)
		case m != strings.ToUpper(m):
			errs.add(k, "method %q must be upper-case (write %s)", m, strings.ToUpper(m))
		}
	}
}

// storeSchemes are the store URL schemes the gateway knows.
var storeSchemes = []string{"bolt", "redis", "rediss", "postgres", "postgresql", "memory"}

func checkStoreURL(errs *errList, key, s string, only ...string) {
	u, err := url.Parse(s)
	schemes := storeSchemes
	if len(only) > 0 {
		schemes = only
	}
	if err != nil || u.Scheme == "" {
		errs.add(key, "invalid store URL %q: want one of %s", s, schemeList(schemes))
		return
	}
	if !slices.Contains(schemes, u.Scheme) {
		errs.add(key, "unsupported store URL scheme %q: want one of %s%s", u.Scheme, schemeList(schemes), didYouMean(u.Scheme, schemes))
		return
	}
	if u.Scheme != "memory" && u.Host == "" && u.Path == "" && u.Opaque == "" {
		errs.add(key, "store URL %q names no host or path", s)
	}
}

func schemeList(s []string) string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x + "://"
	}
	return strings.Join(out, ", ")
}

func (l *Listen) validate(errs *errList) {
	if l.Address != "" {
		checkHostPort(errs, "listen.address", l.Address, true)
	}
	if t := l.TLS; t != nil {
		switch {
		case t.CertFile == "" && t.KeyFile == "":
			errs.add("listen.tls", "cert_file and key_file are required")
		case t.KeyFile == "":
			errs.add("listen.tls.key_file", "required when cert_file is set")
		case t.CertFile == "":
			errs.add("listen.tls.cert_file", "required when key_file is set")
		}
	}
	checkNonNegative(errs, "listen.read_header_timeout", l.ReadHeaderTimeout)
	checkNonNegative(errs, "listen.read_timeout", l.ReadTimeout)
	checkNonNegative(errs, "listen.write_timeout", l.WriteTimeout)
	checkNonNegative(errs, "listen.idle_timeout", l.IdleTimeout)
	checkNonNegative(errs, "listen.drain_timeout", l.DrainTimeout)
	checkNonNegative(errs, "listen.drain_delay", l.DrainDelay)
	if l.MaxHeaderBytes < 0 || l.MaxHeaderBytes > 1<<30 {
		errs.add("listen.max_header_bytes", "must be between 0 and 1GiB, got %v", l.MaxHeaderBytes)
	}
	if l.MaxBodyBytes < 0 {
		errs.add("listen.max_body_bytes", "must not be negative, got %v", l.MaxBodyBytes)
	}
	for i, p := range l.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs.add("listen.trusted_proxies["+strconv.Itoa(i)+"]", "invalid CIDR %q (write e.g. 10.0.0.0/8 or 192.0.2.1)", p)
			}
		}
	}
}

func (a *Admin) validate(errs *errList) {
	if a.Address != "" && a.Address != "off" {
		host, ok := checkHostPort(errs, "admin.address", a.Address, true)
		if ok && !a.AllowRemote && !isLoopback(host) {
			errs.add("admin.address", "%q is not a loopback address; set admin.allow_remote: true to serve the admin API to other hosts", a.Address)
		}
	}
	if a.Token != "" && a.TokenFile != "" {
		errs.add("admin.token_file", "set either token or token_file, not both")
	}
}

func (a *Admission) validate(errs *errList) {
	if a.CriticalityHeader != "" {
		checkHeaderName(errs, "admission.criticality_header", a.CriticalityHeader)
	}
	if s := a.Shed; s != nil {
		checkMin(errs, "admission.shed.max_in_flight", s.MaxInFlight, 0)
		for k, v := range s.Thresholds {
			key := "admission.shed.thresholds." + k
			switch k {
			case "sheddable", "default":
				if v <= 0 || v > 1 {
					errs.add(key, "must be above 0%% and at most 100%%, got %v", v)
				}
			case "critical":
				errs.add(key, "critical requests may always use all of max_in_flight; set thresholds for sheddable and default only")
			default:
				errs.add(key, "unknown criticality %q: want sheddable or default%s", k, didYouMean(k, []string{"sheddable", "default"}))
			}
		}
		def, ok := s.Thresholds["default"]
		if !ok {
			def = 0.8
		}
		if sh, ok := s.Thresholds["sheddable"]; ok && sh > def {
			errs.add("admission.shed.thresholds.sheddable", "must not exceed the default threshold (%v), got %v", def, sh)
		}
		checkNonNegative(errs, "admission.shed.retry_after", s.RetryAfter)
	}
	if l := a.Limit; l != nil {
		const p = "admission.limit."
		checkMin(errs, p+"initial", l.Initial, 0)
		checkMin(errs, p+"min", l.Min, 0)
		checkMin(errs, p+"max", l.Max, 0)
		lo, hi := or(l.Min, 1), or(l.Max, 1000)
		if lo > hi {
			errs.add(p+"min", "must not exceed max (%d), got %d", hi, lo)
		} else if l.Initial != 0 && (l.Initial < lo || l.Initial > hi) {
			errs.add(p+"initial", "must lie between min and max [%d, %d], got %d", lo, hi, l.Initial)
		}
		checkMin(errs, p+"max_queue", l.MaxQueue, 0)
		checkNonNegative(errs, p+"max_wait", l.MaxWait)
	}
	a.RateLimit.validate(errs, "admission.rate_limit")
}

func (r *RateLimit) validate(errs *errList, p string) {
	if r == nil {
		return
	}
	if !(r.Rate.Limit > 0) {
		errs.add(p+".rate", "required: a rate such as 100/s")
	}
	checkMin(errs, p+".burst", r.Burst, 0)
	switch {
	case r.Key == "" || r.Key == "client_ip":
	case strings.HasPrefix(r.Key, "header:"):
		checkHeaderName(errs, p+".key", strings.TrimPrefix(r.Key, "header:"))
	default:
		errs.add(p+".key", "unknown key %q: want \"\", client_ip or header:<Name>", r.Key)
	}
	if r.Store != "" {
		checkStoreURL(errs, p+".store", r.Store, "redis", "rediss")
	}
}

func (u *Upstream) validate(errs *errList, p, name string) {
	checkName(errs, p, "upstream", name)
	if len(u.Targets) == 0 {
		errs.add(p+".targets", "at least one target (host:port) is required")
	}
	seen := map[string]int{}
	for i, t := range u.Targets {
		k := p + ".targets[" + strconv.Itoa(i) + "]"
		if _, ok := checkHostPort(errs, k, t, false); !ok {
			continue
		}
		norm := strings.ToLower(t)
		if j, dup := seen[norm]; dup {
			errs.add(k, "duplicate target %q (also targets[%d])", t, j)
			continue
		}
		seen[norm] = i
	}
	if u.TLS != nil && u.Scheme != "https" {
		errs.add(p+".tls", "needs scheme: https")
	}
	checkNonNegative(errs, p+".dns_refresh", u.DNSRefresh)
	checkNonNegative(errs, p+".connect_timeout", u.ConnectTimeout)
	checkNonNegative(errs, p+".idle_connection_timeout", u.IdleConnTimeout)
	checkMin(errs, p+".max_connections_per_host", u.MaxConnsPerHost, 0)
	checkMin(errs, p+".max_idle_connections_per_host", u.MaxIdleConnsPerHost, 0)
	if h := u.HealthCheck; h != nil {
		hp := p + ".health_check"
		if !strings.HasPrefix(h.Path, "/") {
			errs.add(hp+".path", "required, and must start with \"/\", got %q", h.Path)
		}
		checkNonNegative(errs, hp+".interval", h.Interval)
		checkNonNegative(errs, hp+".timeout", h.Timeout)
		interval, timeout := or(h.Interval, dur(5*time.Second)), or(h.Timeout, dur(time.Second))
		if timeout >= interval {
			errs.add(hp+".timeout", "must be less than interval (%v), got %v", interval, timeout)
		}
		checkPercent(errs, hp+".jitter", h.Jitter)
		checkMin(errs, hp+".healthy_threshold", h.HealthyThreshold, 0)
		checkMin(errs, hp+".unhealthy_threshold", h.UnhealthyThreshold, 0)
		for i, s := range h.ExpectedStatuses {
			checkRange(errs, hp+".expected_statuses["+strconv.Itoa(i)+"]", s, 100, 599)
		}
		if h.Host != "" && !validHost(h.Host) {
			errs.add(hp+".host", "invalid host %q", h.Host)
		}
	}
	if o := u.Outlier; o != nil && !o.Disabled {
		op := p + ".outlier"
		checkNonNegative(errs, op+".interval", o.Interval)
		checkMin(errs, op+".consecutive_5xx", o.Consecutive5xx, 0)
		checkMin(errs, op+".consecutive_connect_failures", o.ConsecutiveConnectFailures, 0)
		checkNonNegative(errs, op+".base_ejection_time", o.BaseEjectionTime)
		base, maxT := or(o.BaseEjectionTime, dur(30*time.Second)), or(o.MaxEjectionTime, dur(300*time.Second))
		if maxT < base {
			errs.add(op+".max_ejection_time", "must be at least base_ejection_time (%v), got %v", base, maxT)
		}
		checkPercent(errs, op+".max_ejection_percent", o.MaxEjectionPercent)
		checkPercent(errs, op+".panic_threshold", o.PanicThreshold)
		if s := o.SuccessRate; s != nil {
			checkMin(errs, op+".success_rate.min_hosts", s.MinHosts, 0)
			checkMin(errs, op+".success_rate.min_requests", s.MinRequests, 0)
			if !(s.StdevFactor >= 0 && s.StdevFactor <= 100) {
				errs.add(op+".success_rate.stdev_factor", "must be between 0 and 100, got %v", s.StdevFactor)
			}
		}
		if l := o.Latency; l != nil {
			if l.Factor != 0 && !(l.Factor > 1 && l.Factor <= 1000) {
				errs.add(op+".latency.factor", "must be above 1 and at most 1000, got %v", l.Factor)
			}
			checkMin(errs, op+".latency.min_requests", l.MinRequests, 0)
			checkMin(errs, op+".latency.min_hosts", l.MinHosts, 0)
			checkNonNegative(errs, op+".latency.threshold", l.Threshold)
		}
	}
	if b := u.Breaker; b != nil && !b.Disabled {
		bp := p + ".breaker"
		checkPercent(errs, bp+".failure_rate", b.FailureRate)
		checkMin(errs, bp+".minimum_calls", b.MinimumCalls, 0)
		checkMin(errs, bp+".window", b.Window, 0)
		checkNonNegative(errs, bp+".window_duration", b.WindowDuration)
		if b.Window > 0 && b.WindowDuration > 0 {
			errs.add(bp+".window_duration", "set either window or window_duration, not both")
		}
		checkNonNegative(errs, bp+".slow_call", b.SlowCall)
		checkPercent(errs, bp+".slow_call_rate", b.SlowCallRate)
		if b.SlowCallRate > 0 && b.SlowCall == 0 {
			errs.add(bp+".slow_call_rate", "needs slow_call")
		}
		checkNonNegative(errs, bp+".open_duration", b.OpenDuration)
		checkMin(errs, bp+".half_open_permits", b.HalfOpenPermits, 0)
	}
	u.Bulkhead.validate(errs, p+".bulkhead")
}

func (b *Bulkhead) validate(errs *errList, p string) {
	if b == nil {
		return
	}
	checkMin(errs, p+".max_concurrent", b.MaxConcurrent, 1)
	checkMin(errs, p+".max_queue", b.MaxQueue, 0)
	checkNonNegative(errs, p+".max_wait", b.MaxWait)
}

var wildcardHostRE = regexp.MustCompile(`^\*\.`)

func (r *Route) validate(errs *errList, p string, c *Config) {
	if r.Name == "" {
		errs.add(p+".name", "required")
	} else {
		checkName(errs, p+".name", "route", r.Name)
	}
	m := &r.Match
	if m.Host != "" && !validHost(wildcardHostRE.ReplaceAllString(m.Host, "x.")) {
		errs.add(p+".match.host", "invalid host %q: want a name such as api.example.com or *.example.com", m.Host)
	}
	if m.Path != "" && !strings.HasPrefix(m.Path, "/") {
		errs.add(p+".match.path", "must start with \"/\", got %q", m.Path)
	}
	if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		errs.add(p+".match.path_prefix", "must start with \"/\", got %q", m.PathPrefix)
	}
	if m.Path != "" && m.PathPrefix != "" {
		errs.add(p+".match.path_prefix", "set either path or path_prefix, not both")
	}
	checkMethods(errs, p+".match.methods", m.Methods)
	for h := range m.Headers {
		checkHeaderName(errs, p+".match.headers."+h, h)
	}
	switch _, ok := c.Upstreams[r.Upstream]; {
	case r.Upstream == "":
		errs.add(p+".upstream", "required: the name of an upstream")
	case !ok:
		errs.add(p+".upstream", "unknown upstream %q%s", r.Upstream, didYouMeanOrList(r.Upstream, keys(c.Upstreams), "upstreams"))
	}
	if r.StripPrefix != "" && !strings.HasPrefix(r.StripPrefix, "/") {
		errs.add(p+".strip_prefix", "must start with \"/\", got %q", r.StripPrefix)
	}
	checkNonNegative(errs, p+".timeout", r.Timeout)
	checkNonNegative(errs, p+".per_try_timeout", r.PerTryTimeout)
	if timeout := or(r.Timeout, dur(15*time.Second)); r.PerTryTimeout > timeout {
		errs.add(p+".per_try_timeout", "must not exceed timeout (%v), got %v", timeout, r.PerTryTimeout)
	}
	r.Retry.validate(errs, p+".retry")
	if h := r.Hedge; h != nil {
		switch {
		case h.Delay > 0 && h.Percentile > 0:
			errs.add(p+".hedge", "set either delay or percentile, not both")
		case h.Delay <= 0 && h.Percentile <= 0:
			errs.add(p+".hedge", "set delay or percentile")
		}
		checkPercent(errs, p+".hedge.percentile", h.Percentile)
		if h.MaxHedges != 0 {
			checkRange(errs, p+".hedge.max", h.MaxHedges, 1, 5)
		}
	}
	r.Bulkhead.validate(errs, p+".bulkhead")
	r.RateLimit.validate(errs, p+".rate_limit")
	if id := r.Idempotency; id != nil {
		ip := p + ".idempotency"
		switch store := or(id.Store, c.Stores.Idempotency); {
		case store == "":
			errs.add(ip+".store", "required, since stores.idempotency is not set")
		case id.Store != "":
			checkStoreURL(errs, ip+".store", id.Store)
		}
		checkMethods(errs, ip+".methods", id.Methods)
		checkNonNegative(errs, ip+".lease", id.Lease)
		checkNonNegative(errs, ip+".max_wait", id.MaxWait)
		if lease, ret := or(id.Lease, dur(30*time.Second)), or(id.Retention, dur(24*time.Hour)); ret < lease {
			errs.add(ip+".retention", "must be at least lease (%v), got %v", lease, ret)
		}
		for i, h := range id.FingerprintHeaders {
			checkHeaderName(errs, ip+".fingerprint_headers["+strconv.Itoa(i)+"]", h)
		}
		switch {
		case id.Scope == "" || id.Scope == "credential" || id.Scope == "none":
		case strings.HasPrefix(id.Scope, "header:"):
			checkHeaderName(errs, ip+".scope", strings.TrimPrefix(id.Scope, "header:"))
		default:
			errs.add(ip+".scope", "unknown scope %q: want credential, none or header:<Name>", id.Scope)
		}
	}
	if ca := r.Cache; ca != nil {
		checkNonNegative(errs, p+".cache.ttl", ca.TTL)
		checkNonNegative(errs, p+".cache.max_stale", ca.MaxStale)
		checkMin(errs, p+".cache.max_entries", ca.MaxEntries, 0)
		if ca.MaxBodyBytes < 0 {
			errs.add(p+".cache.max_body_bytes", "must not be negative, got %v", ca.MaxBodyBytes)
		}
		for i, h := range ca.VaryHeaders {
			checkHeaderName(errs, p+".cache.vary["+strconv.Itoa(i)+"]", h)
		}
	}
	if fb := r.Fallback; fb != nil {
		fp := p + ".fallback"
		if fb.Status != 0 {
			checkRange(errs, fp+".status", fb.Status, 100, 599)
		}
		if fb.Body != "" && fb.BodyFile != "" {
			errs.add(fp+".body_file", "set either body or body_file, not both")
		}
		for h := range fb.Headers {
			checkHeaderName(errs, fp+".headers."+h, h)
		}
		for i, on := range fb.On {
			if on != "error" && on != "5xx" && on != "4xx" && !isStatus(on, 400) {
				errs.add(fp+".on["+strconv.Itoa(i)+"]", "unknown condition %q: want error, 5xx, 4xx or a status code 400-599", on)
			}
		}
	}
	if r.Flag != "" {
		if _, ok := c.Flags[r.Flag]; !ok {
			errs.add(p+".flag", "unknown flag %q%s", r.Flag, didYouMeanOrList(r.Flag, keys(c.Flags), "flags"))
		}
	}
}

func (r *Retry) validate(errs *errList, p string) {
	if r == nil {
		return
	}
	if r.Attempts != 0 {
		checkRange(errs, p+".attempts", r.Attempts, 1, 10)
	}
	for i, on := range r.On {
		switch on {
		case "connect_failure", "reset", "timeout", "5xx":
		default:
			if !isStatus(on, 400) {
				errs.add(p+".on["+strconv.Itoa(i)+"]", "unknown condition %q: want connect_failure, reset, timeout, 5xx or a status code 400-599%s",
					on, didYouMean(on, []string{"connect_failure", "reset", "timeout", "5xx"}))
			}
		}
	}
	checkNonNegative(errs, p+".backoff", r.Backoff)
	checkNonNegative(errs, p+".max_backoff", r.MaxBackoff)
	if b, m := or(r.Backoff, dur(25*time.Millisecond)), or(r.MaxBackoff, dur(time.Second)); m < b {
		errs.add(p+".max_backoff", "must be at least backoff (%v), got %v", b, m)
	}
	if r.BudgetPercent != nil {
		checkPercent(errs, p+".budget", *r.BudgetPercent)
	}
	checkMin(errs, p+".min_retries_per_second", r.MinRetriesPerSecond, 0)
	checkNonNegative(errs, p+".retry_after_max", r.RetryAfterMax)
}

// isStatus reports whether s is a status code in [lo, 599].
func isStatus(s string, lo int) bool {
	n, err := strconv.Atoi(s)
	return err == nil && len(s) == 3 && n >= lo && n <= 599
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
