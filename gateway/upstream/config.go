package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
)

// Balancer names accepted in Config.Balancer.
const (
	RoundRobin   = "round_robin"
	LeastRequest = "least_request"
	PeakEWMA     = "peak_ewma"
)

// Defaults applied to zero Config, HealthCheck and Outlier fields.
const (
	DefaultDNSRefresh          = 30 * time.Second
	DefaultConnectTimeout      = 2 * time.Second
	DefaultMaxIdleConnsPerHost = 64
	DefaultIdleConnTimeout     = 90 * time.Second
	DefaultEWMADecay           = 10 * time.Second
	DefaultEWMADefaultRTT      = 30 * time.Millisecond
	DefaultFailurePenalty      = time.Second

	DefaultHealthInterval          = 5 * time.Second
	DefaultHealthJitter            = 0.1
	DefaultHealthTimeout           = 1 * time.Second
	DefaultHealthyThreshold        = 2
	DefaultUnhealthyThreshold      = 3
	DefaultOutlierInterval         = 10 * time.Second
	DefaultConsecutive5xx          = 5
	DefaultConsecutiveConnectFails = 3
	DefaultBaseEjectionTime        = 30 * time.Second
	DefaultMaxEjectionTime         = 300 * time.Second
	DefaultMaxEjectionPercent      = 0.5
	DefaultPanicThreshold          = 0.5
	DefaultSuccessRateMinHosts     = 5
	DefaultSuccessRateMinRequests  = 100
	DefaultSuccessRateStdevFactor  = 1.9
	DefaultLatencyFactor           = 3
	DefaultLatencyMinRequests      = 20
	DefaultLatencyMinHosts         = 2
	DefaultLatencyThreshold        = 50 * time.Millisecond
	noHostRetryAfter               = time.Second
	maxHostsTracked                = 256
	maxBreakerSkips                = 16 // hosts whose breaker refused, tried per attempt
)

// Resolver resolves a host name to addresses. *net.Resolver implements it.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Config configures a Pool. Every zero field means its documented default;
// the same struct is filled from the gateway's YAML. Only Targets is
// required.
type Config struct {
	// Name names the upstream in events, errors, logs and Status.
	Name string
	// Targets are the replicas, each "host:port". An IP address is one host;
	// a host name is resolved at New and again every DNSRefresh, and every
	// address it resolves to becomes a host (on the target's port).
	Targets []string
	// Scheme is "http" (the zero value) or "https".
	Scheme string
	// TLSClientConfig configures TLS for "https"; nil means the system roots.
	// When ServerName is empty and every host-name target has the same name,
	// that name is used for SNI and verification (hosts are dialed by IP).
	TLSClientConfig *tls.Config
	// DNSRefresh is how often host-name targets are resolved again. Zero
	// means 30s. A failed lookup keeps the target's previous addresses.
	DNSRefresh time.Duration
	// Resolver resolves host-name targets. Nil means net.DefaultResolver.
	Resolver Resolver

	// Balancer is "peak_ewma" (the zero value), "least_request" or
	// "round_robin"; see the package documentation.
	Balancer string
	// EWMADecay is the time constant with which the peak-EWMA latency of a
	// host decays. Zero means 10s.
	EWMADecay time.Duration
	// EWMADefaultRTT is the latency a new host starts with. Zero means 30ms.
	EWMADefaultRTT time.Duration
	// FailurePenalty is how long peak_ewma avoids a host after an attempt
	// to it ended in a connection error, a 429 or a 503, so that a host
	// failing fast does not attract traffic. When it ends the host is tried
	// again: a dead host is probed once per penalty until its
	// consecutive-failure rule ejects it, and a revived host gets traffic
	// back at once. Zero means 1s; negative turns the penalty off.
	FailurePenalty time.Duration

	// ConnectTimeout bounds dialing a host. Zero means 2s.
	ConnectTimeout time.Duration
	// MaxConnsPerHost bounds the connections to one host (dialing, active
	// and idle). Zero means no limit.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost bounds the idle keep-alive connections kept per
	// host. Zero means 64.
	MaxIdleConnsPerHost int
	// IdleConnTimeout is how long an idle connection is kept. Zero means 90s.
	IdleConnTimeout time.Duration

	// HealthCheck configures active health checks. Nil means none: every
	// host counts as healthy.
	HealthCheck *HealthCheck
	// Outlier configures passive outlier detection. The zero value turns it
	// on with the defaults; set Outlier.Disabled to turn it off.
	Outlier Outlier

	// Breaker, if set, gives every host its own circuit breaker built from
	// it. An empty Breaker.Name becomes Name+"/"+address, a set one
	// Breaker.Name+"/"+address; a nil Breaker.Observer becomes Observer.
	Breaker *breaker.Config
	// Bulkhead, if set, bounds the attempts in flight to the upstream as a
	// whole. An empty Bulkhead.Name becomes Name; a nil Bulkhead.Observer
	// becomes Observer.
	Bulkhead *bulkhead.Config
	// Observer receives the breaker and bulkhead events. Nil means none.
	Observer keel.Observer
	// OnEvent receives host events (added, removed, ejected, readmitted,
	// healthy, unhealthy, drained, undrained). It is called without any lock
	// held, from any goroutine, and must not block for long.
	OnEvent func(Event)
	// Logger receives one record per host event and DNS failure. Nil means
	// no logging.
	Logger *slog.Logger
	// Seed seeds the randomness of power-of-two-choices and health-check
	// jitter. Zero means a random seed.
	Seed uint64

	// check replaces the active health check in tests.
	// WrapTransport, if set, wraps the transport that sends each attempt,
	// after the host was chosen and its breaker and the bulkhead admitted
	// it: the place for fault injection (chaos.Injector.Transport), whose
	// failures then count for the host's breaker, outlier detection and
	// EWMA exactly like real ones. Health checks do not go through it.
	WrapTransport func(http.RoundTripper) http.RoundTripper

	check func(ctx context.Context, addr string) error
}

// HealthCheck configures active health checks: each host is sent a GET
// every Interval (± Jitter), on the pool's own connections.
type HealthCheck struct {
	// Path is the request path. Zero means "/".
	Path string
	// Interval is the time between two checks of one host. Zero means 5s.
	Interval time.Duration
	// Jitter spreads checks: each wait is Interval × (1 ± Jitter), uniformly
	// drawn. It must be in [0, 1). Zero means 0.1; negative means none.
	Jitter float64
	// Timeout bounds one check. Zero means 1s.
	Timeout time.Duration
	// HealthyThreshold is how many consecutive passing checks make an
	// unhealthy host healthy. Zero means 2.
	HealthyThreshold int
	// UnhealthyThreshold is how many consecutive failed checks make a healthy
	// host unhealthy. Zero means 3.
	UnhealthyThreshold int
	// ExpectedStatuses are the statuses of a passing check. Nil means any
	// 2xx.
	ExpectedStatuses []int
	// Host is the Host header of a check. Zero means the host's address.
	Host string
}

// Outlier configures passive outlier detection, computed from the outcomes
// of real requests. Integer thresholds that are zero take their default and
// turn off when negative.
type Outlier struct {
	// Disabled turns outlier detection off.
	Disabled bool
	// Interval is the period of the success-rate and latency evaluations,
	// of the decay of the ejection multiplier, and of readmissions that
	// are due. Zero means 10s.
	Interval time.Duration
	// Consecutive5xx ejects a host after that many responses with status 500
	// or above in a row. Zero means 5; negative turns the rule off.
	Consecutive5xx int
	// ConsecutiveConnectFailures ejects a host after that many local-origin
	// failures in a row: a dial error, or a reset, EOF or other transport
	// error before the response headers. Zero means 3; negative turns the
	// rule off.
	ConsecutiveConnectFailures int
	// SuccessRate turns on success-rate ejection; nil means off.
	SuccessRate *SuccessRate
	// Latency turns on latency ejection; nil means off.
	Latency *Latency
	// BaseEjectionTime is the length of a first ejection; the n-th
	// consecutive ejection lasts n × BaseEjectionTime, capped at
	// MaxEjectionTime. n drops by one each Interval the host spends
	// admitted. Zero means 30s.
	BaseEjectionTime time.Duration
	// MaxEjectionTime caps an ejection. Zero means 300s.
	MaxEjectionTime time.Duration
	// MaxEjectionPercent is the largest share of the hosts (0–1) that may be
	// ejected at once; one host may always be ejected. Zero means 0.5.
	MaxEjectionPercent float64
	// PanicThreshold: when fewer than this share (0–1) of the hosts that
	// are not drained are healthy and admitted, the pool balances over all
	// of them, ignoring health and ejection. Zero means 0.5; negative turns
	// panic mode off.
	PanicThreshold float64
}

// SuccessRate configures success-rate ejection. Each Interval, among the
// hosts that served at least MinRequests requests, if there are at least
// MinHosts of them, a host whose success rate is below
// mean − StdevFactor × stdev is ejected.
type SuccessRate struct {
	MinHosts    int     // zero means 5
	MinRequests int     // zero means 100
	StdevFactor float64 // zero means 1.9
}

// Latency configures latency ejection. Each Interval, among the hosts with at
// least MinRequests responses, if there are at least MinHosts of them, a host
// whose mean time to response headers exceeds both Factor × the median of
// the other hosts' means and Threshold is ejected.
type Latency struct {
	Factor      float64       // zero means 3; must be at least 1
	MinRequests int           // zero means 20
	MinHosts    int           // zero means 2
	Threshold   time.Duration // zero means 50ms
}

// Validate reports the first invalid field of c, or nil.
func (c Config) Validate() error {
	if len(c.Targets) == 0 {
		return errors.New("upstream: Config.Targets is empty")
	}
	for i, t := range c.Targets {
		if _, _, err := splitTarget(t); err != nil {
			return fmt.Errorf("upstream: Config.Targets[%d] %q: %w", i, t, err)
		}
	}
	switch c.Scheme {
	case "", "http", "https":
	default:
		return fmt.Errorf("upstream: Config.Scheme %q: want \"http\" or \"https\"", c.Scheme)
	}
	switch c.Balancer {
	case "", RoundRobin, LeastRequest, PeakEWMA:
	default:
		return fmt.Errorf("upstream: Config.Balancer %q: want %q, %q or %q", c.Balancer, PeakEWMA, LeastRequest, RoundRobin)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DNSRefresh", c.DNSRefresh}, {"EWMADecay", c.EWMADecay}, {"EWMADefaultRTT", c.EWMADefaultRTT},
		{"ConnectTimeout", c.ConnectTimeout}, {"IdleConnTimeout", c.IdleConnTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("upstream: Config.%s is negative (%v)", d.name, d.v)
		}
	}
	if c.MaxConnsPerHost < 0 {
		return fmt.Errorf("upstream: Config.MaxConnsPerHost is negative (%d)", c.MaxConnsPerHost)
	}
	if c.MaxIdleConnsPerHost < 0 {
		return fmt.Errorf("upstream: Config.MaxIdleConnsPerHost is negative (%d)", c.MaxIdleConnsPerHost)
	}
	if hc := c.HealthCheck; hc != nil {
		if err := hc.validate(); err != nil {
			return err
		}
	}
	if err := c.Outlier.validate(); err != nil {
		return err
	}
	if c.Breaker != nil {
		if err := c.Breaker.Validate(); err != nil {
			return fmt.Errorf("upstream: Config.Breaker: %w", err)
		}
	}
	if c.Bulkhead != nil {
		if err := c.Bulkhead.Validate(); err != nil {
			return fmt.Errorf("upstream: Config.Bulkhead: %w", err)
		}
	}
	return nil
}

func (hc *HealthCheck) validate() error {
	if hc.Path != "" && hc.Path[0] != '/' {
		return fmt.Errorf("upstream: HealthCheck.Path %q must start with /", hc.Path)
	}
	if hc.Interval < 0 || hc.Timeout < 0 {
		return fmt.Errorf("upstream: HealthCheck.Interval (%v) and Timeout (%v) must not be negative", hc.Interval, hc.Timeout)
	}
	if hc.Jitter >= 1 || math.IsNaN(hc.Jitter) {
		return fmt.Errorf("upstream: HealthCheck.Jitter %v must be below 1", hc.Jitter)
	}
	if hc.HealthyThreshold < 0 || hc.UnhealthyThreshold < 0 {
		return fmt.Errorf("upstream: HealthCheck.HealthyThreshold (%d) and UnhealthyThreshold (%d) must not be negative", hc.HealthyThreshold, hc.UnhealthyThreshold)
	}
	for _, s := range hc.ExpectedStatuses {
		if s < 100 || s > 599 {
			return fmt.Errorf("upstream: HealthCheck.ExpectedStatuses: %d is not an HTTP status", s)
		}
	}
	return nil
}

func (o *Outlier) validate() error {
	if o.Interval < 0 || o.BaseEjectionTime < 0 || o.MaxEjectionTime < 0 {
		return fmt.Errorf("upstream: Outlier.Interval (%v), BaseEjectionTime (%v) and MaxEjectionTime (%v) must not be negative", o.Interval, o.BaseEjectionTime, o.MaxEjectionTime)
	}
	d := o.withDefaults()
	if d.MaxEjectionTime < d.BaseEjectionTime {
		return fmt.Errorf("upstream: Outlier.MaxEjectionTime %v is below BaseEjectionTime %v", d.MaxEjectionTime, d.BaseEjectionTime)
	}
	if !(o.MaxEjectionPercent >= 0 && o.MaxEjectionPercent <= 1) {
		return fmt.Errorf("upstream: Outlier.MaxEjectionPercent %v must be in [0, 1]", o.MaxEjectionPercent)
	}
	if math.IsNaN(o.PanicThreshold) || o.PanicThreshold > 1 {
		return fmt.Errorf("upstream: Outlier.PanicThreshold %v must be at most 1", o.PanicThreshold)
	}
	if sr := o.SuccessRate; sr != nil {
		if sr.MinHosts < 0 || sr.MinRequests < 0 || !(sr.StdevFactor >= 0) {
			return fmt.Errorf("upstream: Outlier.SuccessRate: MinHosts (%d), MinRequests (%d) and StdevFactor (%v) must not be negative", sr.MinHosts, sr.MinRequests, sr.StdevFactor)
		}
	}
	if l := o.Latency; l != nil {
		if l.MinHosts < 0 || l.MinRequests < 0 || l.Threshold < 0 {
			return fmt.Errorf("upstream: Outlier.Latency: MinHosts (%d), MinRequests (%d) and Threshold (%v) must not be negative", l.MinHosts, l.MinRequests, l.Threshold)
		}
		if l.Factor != 0 && !(l.Factor >= 1) {
			return fmt.Errorf("upstream: Outlier.Latency.Factor %v must be at least 1", l.Factor)
		}
	}
	return nil
}

func (o Outlier) withDefaults() Outlier {
	if o.Interval == 0 {
		o.Interval = DefaultOutlierInterval
	}
	if o.Consecutive5xx == 0 {
		o.Consecutive5xx = DefaultConsecutive5xx
	}
	if o.ConsecutiveConnectFailures == 0 {
		o.ConsecutiveConnectFailures = DefaultConsecutiveConnectFails
	}
	if o.BaseEjectionTime == 0 {
		o.BaseEjectionTime = DefaultBaseEjectionTime
	}
	if o.MaxEjectionTime == 0 {
		o.MaxEjectionTime = max(DefaultMaxEjectionTime, o.BaseEjectionTime)
	}
	if o.MaxEjectionPercent == 0 {
		o.MaxEjectionPercent = DefaultMaxEjectionPercent
	}
	if o.PanicThreshold == 0 {
		o.PanicThreshold = DefaultPanicThreshold
	}
	if sr := o.SuccessRate; sr != nil {
		c := *sr
		if c.MinHosts == 0 {
			c.MinHosts = DefaultSuccessRateMinHosts
		}
		if c.MinRequests == 0 {
			c.MinRequests = DefaultSuccessRateMinRequests
		}
		if c.StdevFactor == 0 {
			c.StdevFactor = DefaultSuccessRateStdevFactor
		}
		o.SuccessRate = &c
	}
	if l := o.Latency; l != nil {
		c := *l
		if c.Factor == 0 {
			c.Factor = DefaultLatencyFactor
		}
		if c.MinRequests == 0 {
			c.MinRequests = DefaultLatencyMinRequests
		}
		if c.MinHosts == 0 {
			c.MinHosts = DefaultLatencyMinHosts
		}
		if c.Threshold == 0 {
			c.Threshold = DefaultLatencyThreshold
		}
		o.Latency = &c
	}
	return o
}

func (hc HealthCheck) withDefaults() HealthCheck {
	if hc.Path == "" {
		hc.Path = "/"
	}
	if hc.Interval == 0 {
		hc.Interval = DefaultHealthInterval
	}
	if hc.Jitter == 0 {
		hc.Jitter = DefaultHealthJitter
	} else if hc.Jitter < 0 {
		hc.Jitter = 0
	}
	if hc.Timeout == 0 {
		hc.Timeout = DefaultHealthTimeout
	}
	if hc.HealthyThreshold == 0 {
		hc.HealthyThreshold = DefaultHealthyThreshold
	}
	if hc.UnhealthyThreshold == 0 {
		hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return hc
}

// splitTarget splits "host:port", checking the port is a number.
func splitTarget(t string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(t)
	if err != nil {
		return "", "", err
	}
	if host == "" {
		return "", "", errors.New("empty host")
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", "", fmt.Errorf("port %q is not a number in 1–65535", port)
	}
	return host, port, nil
}
