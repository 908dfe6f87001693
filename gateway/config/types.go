package config

// The struct tags below are read at run time: yaml names the key, desc
// describes it, default gives its default in words and enum lists the only
// values a string key accepts (Validate checks them, Schema and the
// reference in docs/gateway-config.md show them).

// Config is a gateway configuration: one YAML file. Its zero value, and the
// zero value of every field below it, means "the default" (see setDefaults
// and each field's default tag); Parse and Load fill the defaults in. A
// Config is a plain value: it is not safe to modify while another goroutine
// reads it, and the gateway treats the one it serves as immutable. A parsed
// Config also remembers where each key was in the file (for Validate's
// errors), so compare sections (reflect.DeepEqual(a.Routes, b.Routes)) rather
// than whole Configs.
type Config struct {
	Listen    Listen              `yaml:"listen" desc:"The listener that serves proxied traffic."`
	Admin     Admin               `yaml:"admin" desc:"The admin API (health, metrics, flags, breaker control)."`
	Telemetry Telemetry           `yaml:"telemetry" desc:"Logs and metrics."`
	Admission Admission           `yaml:"admission" desc:"Gateway-wide admission control, applied before routing."`
	Flags     map[string]Flag     `yaml:"flags" keys:"^[a-z0-9_-]+$" desc:"Feature flags by name ([a-z0-9_-]+); a route's flag key refers to one."`
	Stores    Stores              `yaml:"stores" desc:"Where state that outlives a request is kept."`
	Upstreams map[string]Upstream `yaml:"upstreams" keys:"^[a-z0-9_-]+$" desc:"Upstream services by name ([a-z0-9_-]+); a route's upstream key refers to one."`
	Routes    []Route             `yaml:"routes" required:"true" desc:"Routes, tried in order; the first that matches a request serves it. At least one is required."`
	Chaos     *Chaos              `yaml:"chaos" desc:"Fault injection for experiments: faults applied to each upstream attempt, so retries, breakers, caches and fallbacks react to them. Absent: none; the admin API can still add faults."`

	file string
	pos  map[string]position
}

// Listen configures the proxy listener.
type Listen struct {
	Address           string   `yaml:"address" default:"127.0.0.1:8080" desc:"host:port to listen on; \":8080\" listens on every interface."`
	TLS               *TLS     `yaml:"tls" desc:"Serve HTTPS with this certificate. Absent: plain HTTP (with HTTP/2 only if h2c is on)."`
	HTTP2             *bool    `yaml:"http2" default:"true" desc:"Offer HTTP/2 over TLS (ALPN). No effect without tls."`
	H2C               bool     `yaml:"h2c" default:"false" desc:"Without tls, also accept HTTP/2 with prior knowledge (h2c), as clients and meshes inside a cluster may speak it. Upstreams are still reached over HTTP/1.1. No effect with tls."`
	Server            string   `yaml:"server" default:"keel" enum:"keel,net/http" desc:"HTTP/1.x server of a plain listener: keel (no reader goroutine or timer per request, raw socket calls; see docs/gateway.md) or net/http (Go's). tls and h2c always use net/http."`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout" default:"10s" desc:"Time allowed to read a request's headers (slowloris protection)."`
	ReadTimeout       Duration `yaml:"read_timeout" default:"60s" desc:"Time allowed to read a whole request, body included."`
	WriteTimeout      Duration `yaml:"write_timeout" default:"0s (none)" desc:"Time allowed to write a response; 0s means no limit, for streaming."`
	IdleTimeout       Duration `yaml:"idle_timeout" default:"120s" desc:"How long an idle keep-alive connection stays open."`
	MaxHeaderBytes    ByteSize `yaml:"max_header_bytes" default:"64KiB" desc:"Largest request header block accepted."`
	MaxBodyBytes      ByteSize `yaml:"max_body_bytes" default:"10MiB" desc:"Largest request body accepted; a larger one gets 413."`
	DrainTimeout      Duration `yaml:"drain_timeout" default:"30s" desc:"On SIGTERM, how long in-flight requests may finish before connections are closed."`
	DrainDelay        Duration `yaml:"drain_delay" default:"0s" desc:"On SIGTERM, how long /readyz reports 503 before the listener closes, so load balancers stop sending."`
	TrustedProxies    []string `yaml:"trusted_proxies" default:"none" desc:"CIDRs (or single IPs) of proxies whose X-Forwarded-For is kept and appended to; from any other peer it is replaced."`
}

// TLS is a server certificate for the listener.
type TLS struct {
	CertFile   string `yaml:"cert_file" desc:"PEM certificate chain file. Required, with key_file."`
	KeyFile    string `yaml:"key_file" desc:"PEM private key file. Required, with cert_file."`
	MinVersion string `yaml:"min_version" default:"1.2" enum:"1.2,1.3" desc:"Lowest TLS version accepted."`
}

// Admin configures the admin API.
type Admin struct {
	Address     string `yaml:"address" default:"127.0.0.1:9901" desc:"host:port of the admin API, or \"off\" to disable it. A non-loopback address needs allow_remote."`
	AllowRemote bool   `yaml:"allow_remote" default:"false" desc:"Allow an admin address that is not loopback."`
	Token       string `yaml:"token" desc:"Bearer token required for mutations (POST, PUT, DELETE). Empty: mutations are disabled (403). Usually ${ENV_VAR}."`
	TokenFile   string `yaml:"token_file" desc:"File holding the token (surrounding space trimmed), relative to the config file. Not with token. Load reads it into token and clears this key."`
	Pprof       bool   `yaml:"pprof" default:"false" desc:"Serve Go's profiler at /debug/pprof/ on the admin listener (CPU and heap profiles for performance work)."`
	Dashboard   *bool  `yaml:"dashboard" default:"true" desc:"Serve the live dashboard at / on the admin listener (keel gateway only)."`
}

// Telemetry configures logs and metrics.
type Telemetry struct {
	AccessLog   *bool  `yaml:"access_log" default:"true" desc:"Log one line per request."`
	LogFormat   string `yaml:"log_format" default:"json" enum:"text,json" desc:"Log encoding."`
	LogLevel    string `yaml:"log_level" default:"info" enum:"debug,info,warn,error" desc:"Lowest level logged."`
	Metrics     *bool  `yaml:"metrics" default:"true" desc:"Serve Prometheus metrics on the admin API at /metrics."`
	ServiceName string `yaml:"service_name" default:"keel-gateway" desc:"Service name in logs, metrics and traces."`
}

// Admission is gateway-wide admission control, applied to every request
// before routing. Each part is off when absent.
type Admission struct {
	Shed              *Shed          `yaml:"shed" desc:"Criticality-based load shedding (package shed). Absent: off."`
	Limit             *AdaptiveLimit `yaml:"limit" desc:"Adaptive concurrency limit (package limit). Absent: off."`
	RateLimit         *RateLimit     `yaml:"rate_limit" desc:"Token-bucket rate limit over all requests. Absent: off."`
	CriticalityHeader string         `yaml:"criticality_header" default:"Keel-Criticality" desc:"Request header that carries a request's criticality."`
}

// Shed configures criticality-based shedding; it mirrors shed.Config.
type Shed struct {
	MaxInFlight int                `yaml:"max_in_flight" default:"100" desc:"Most requests in flight at once (shed.Config.Capacity); critical requests may use all of it."`
	Thresholds  map[string]Percent `yaml:"thresholds" default:"sheddable: 50%, default: 80%" desc:"Share of max_in_flight open to each lower class: a request of the class is shed once that many requests are in flight. Keys: sheddable, default; sheddable must not exceed default."`
	RetryAfter  Duration           `yaml:"retry_after" default:"1s" desc:"Retry-After sent with a shed request's 503."`
}

// AdaptiveLimit configures the adaptive concurrency limit; it mirrors
// limit.Config.
type AdaptiveLimit struct {
	Algorithm  string   `yaml:"algorithm" default:"gradient2" enum:"aimd,vegas,gradient2" desc:"How the limit follows latency."`
	Initial    int      `yaml:"initial" default:"20" desc:"Limit before the first sample; within [min, max]."`
	Min        int      `yaml:"min" default:"1" desc:"Floor of the limit."`
	Max        int      `yaml:"max" default:"1000" desc:"Ceiling of the limit."`
	MaxQueue   int      `yaml:"max_queue" default:"0 (no queue)" desc:"Requests that may wait for a permit when the limit is reached; beyond, they are rejected at once."`
	MaxWait    Duration `yaml:"max_wait" default:"0s (the request's own deadline)" desc:"Longest wait in the queue."`
	QueueOrder string   `yaml:"queue_order" default:"fifo" enum:"fifo,lifo" desc:"Which waiting request gets a freed permit."`
}

// RateLimit is a token bucket, gateway-wide or per route.
type RateLimit struct {
	Rate  Rate   `yaml:"rate" required:"true" desc:"Sustained rate, such as 100/s or 6000/m. Required."`
	Burst int    `yaml:"burst" default:"the rate per second, rounded up (at least 1)" desc:"Bucket size: how many requests may pass at once after a quiet period."`
	Key   string `yaml:"key" default:"\"\" (one bucket)" desc:"What gets its own bucket: \"\" one for all, \"client_ip\", or \"header:<Name>\" (a request without the header shares one bucket)."`
	Store string `yaml:"store" default:"\"\" (in memory, per replica)" desc:"redis:// or rediss:// URL to share the limit across gateway replicas."`
}

// Flag is a feature flag.
type Flag struct {
	Enabled     *bool    `yaml:"enabled" default:"true" desc:"Whether the flag is on; the admin API can flip it at run time."`
	Percent     *Percent `yaml:"percent" default:"100%" desc:"Share of requests for which an enabled flag is on (rollout)."`
	Description string   `yaml:"description" desc:"What the flag guards, shown by the admin API."`
}

// Stores configures state storage.
type Stores struct {
	Idempotency string `yaml:"idempotency" desc:"Default store URL for routes with idempotency: bolt:///abs/path.db or bolt://rel/path.db (relative to data_dir), redis://host:port/db, rediss://..., postgres://..., or memory:// (tests only: not durable, not shared)."`
	DataDir     string `yaml:"data_dir" default:"./keel-data" desc:"Directory for local state; relative bolt paths resolve here."`
}

// Upstream is a set of interchangeable hosts serving one service.
type Upstream struct {
	Targets             []string     `yaml:"targets" required:"true" desc:"host:port of each host; at least one, no duplicates. Host names are re-resolved every dns_refresh."`
	Scheme              string       `yaml:"scheme" default:"http" enum:"http,https" desc:"Protocol to the hosts."`
	TLS                 *UpstreamTLS `yaml:"tls" desc:"TLS settings for scheme https."`
	DNSRefresh          Duration     `yaml:"dns_refresh" default:"30s" desc:"How often host names in targets are resolved again."`
	Balancer            string       `yaml:"balancer" default:"peak_ewma" enum:"round_robin,least_request,peak_ewma" desc:"How a host is picked: peak_ewma and least_request pick the better of two random hosts."`
	FailurePenalty      *Duration    `yaml:"failure_penalty" default:"1s" desc:"How long peak_ewma avoids a host after an attempt to it ended in a connection error, a 429 or a 503; then the host is tried again, so a dead host keeps being probed until it is ejected and a revived one gets traffic back at once. 0s turns it off."`
	ConnectTimeout      Duration     `yaml:"connect_timeout" default:"2s" desc:"Time allowed to open a connection (TCP and TLS)."`
	MaxConnsPerHost     int          `yaml:"max_connections_per_host" default:"0 (unlimited)" desc:"Most connections to one host."`
	MaxIdleConnsPerHost int          `yaml:"max_idle_connections_per_host" default:"64" desc:"Most idle connections kept per host."`
	IdleConnTimeout     Duration     `yaml:"idle_connection_timeout" default:"90s" desc:"How long an idle connection is kept."`
	HealthCheck         *HealthCheck `yaml:"health_check" desc:"Active health checks. Absent: none (passive outlier detection still runs)."`
	Outlier             *Outlier     `yaml:"outlier" default:"on, with its defaults" desc:"Passive outlier detection: ejects hosts that fail. {disabled: true} turns it off."`
	Breaker             *Breaker     `yaml:"breaker" default:"on, with its defaults" desc:"One circuit breaker per host. {disabled: true} turns it off."`
	Bulkhead            *Bulkhead    `yaml:"bulkhead" desc:"Concurrency cap over the whole upstream. Absent: none."`
}

// UpstreamTLS configures TLS to upstream hosts.
type UpstreamTLS struct {
	CAFile             string `yaml:"ca_file" default:"the system roots" desc:"PEM file of CA certificates to trust."`
	ServerName         string `yaml:"server_name" default:"the target's host" desc:"Name to verify in the host's certificate (and to send as SNI)."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" default:"false" desc:"Do not verify host certificates. For tests only."`
}

// HealthCheck configures active health checks of an upstream's hosts.
type HealthCheck struct {
	Path               string   `yaml:"path" required:"true" desc:"Path to GET on each host; starts with /. Required."`
	Interval           Duration `yaml:"interval" default:"5s" desc:"Time between checks of one host."`
	Jitter             Percent  `yaml:"jitter" default:"10%" desc:"Random share of interval added to or removed from each wait, so checks spread out."`
	Timeout            Duration `yaml:"timeout" default:"1s" desc:"Time allowed for one check; less than interval."`
	HealthyThreshold   int      `yaml:"healthy_threshold" default:"2" desc:"Consecutive passing checks that mark an unhealthy host healthy."`
	UnhealthyThreshold int      `yaml:"unhealthy_threshold" default:"3" desc:"Consecutive failing checks that mark a healthy host unhealthy."`
	ExpectedStatuses   []int    `yaml:"expected_statuses" default:"any 2xx" desc:"Status codes that pass."`
	Host               string   `yaml:"host" default:"the target" desc:"Host header of checks."`
}

// Outlier configures passive outlier detection, after Envoy's.
type Outlier struct {
	Disabled                   bool            `yaml:"disabled" default:"false" desc:"Turn outlier detection off."`
	Interval                   Duration        `yaml:"interval" default:"10s" desc:"Evaluation period of success_rate and latency; also how often an ejection count decays."`
	Consecutive5xx             int             `yaml:"consecutive_5xx" default:"5" desc:"Consecutive 5xx responses that eject a host."`
	ConsecutiveConnectFailures int             `yaml:"consecutive_connect_failures" default:"3" desc:"Consecutive local-origin failures (connect refused, reset, connect timeout) that eject a host."`
	SuccessRate                *SuccessRate    `yaml:"success_rate" desc:"Eject hosts whose success rate is far below the others'. Absent: off."`
	Latency                    *LatencyOutlier `yaml:"latency" desc:"Eject hosts much slower than the others. Absent: off."`
	BaseEjectionTime           Duration        `yaml:"base_ejection_time" default:"30s" desc:"The n-th ejection in a row lasts n × base_ejection_time, capped at max_ejection_time."`
	MaxEjectionTime            Duration        `yaml:"max_ejection_time" default:"300s" desc:"Longest ejection; at least base_ejection_time."`
	MaxEjectionPercent         Percent         `yaml:"max_ejection_percent" default:"50%" desc:"Largest share of hosts ejected at once; one host may always be ejected."`
	PanicThreshold             Percent         `yaml:"panic_threshold" default:"50%" desc:"When fewer than this share of hosts is available, balance over all hosts, ejected or not."`
}

// SuccessRate configures success-rate outlier detection: a host is ejected
// when its success rate is below mean − stdev_factor × stdev of all hosts'.
type SuccessRate struct {
	MinHosts    int     `yaml:"min_hosts" default:"5" desc:"Hosts with enough requests needed to evaluate."`
	MinRequests int     `yaml:"min_requests" default:"100" desc:"Requests a host needs in an interval to be evaluated."`
	StdevFactor float64 `yaml:"stdev_factor" default:"1.9" desc:"How many standard deviations below the mean ejects."`
}

// LatencyOutlier configures latency outlier detection: a host is ejected
// when its EWMA latency exceeds both factor × the median of all hosts' and
// threshold.
type LatencyOutlier struct {
	Factor      float64  `yaml:"factor" default:"3" desc:"Multiple of the median host latency that ejects; greater than 1."`
	MinRequests int      `yaml:"min_requests" default:"20" desc:"Requests a host needs in an interval to be evaluated."`
	MinHosts    int      `yaml:"min_hosts" default:"2" desc:"Hosts with enough requests needed to evaluate."`
	Threshold   Duration `yaml:"threshold" default:"50ms" desc:"Absolute floor: a host is never ejected for a latency below this."`
}

// Breaker configures the per-host circuit breaker.
type Breaker struct {
	Disabled        bool     `yaml:"disabled" default:"false" desc:"Turn the breakers off."`
	FailureRate     Percent  `yaml:"failure_rate" default:"50%" desc:"Failure share over the window that opens the breaker."`
	MinimumCalls    int      `yaml:"minimum_calls" default:"20" desc:"Calls in the window before the rates are evaluated."`
	Window          int      `yaml:"window" default:"100 (unless window_duration is set)" desc:"Count window: the last this many calls. Not with window_duration."`
	WindowDuration  Duration `yaml:"window_duration" desc:"Time window: the calls of the last this long, instead of a count window. Not with window."`
	SlowCall        Duration `yaml:"slow_call" default:"0s (off)" desc:"A call slower than this counts as slow."`
	SlowCallRate    Percent  `yaml:"slow_call_rate" default:"100% (with slow_call)" desc:"Slow share over the window that opens the breaker. Needs slow_call."`
	OpenDuration    Duration `yaml:"open_duration" default:"30s" desc:"How long an open breaker rejects before letting probes through."`
	HalfOpenPermits int      `yaml:"half_open_permits" default:"5" desc:"Probe calls let through while half-open."`
}

// Bulkhead caps concurrent requests, per upstream or per route.
type Bulkhead struct {
	MaxConcurrent int      `yaml:"max_concurrent" required:"true" desc:"Most requests in flight at once; at least 1. Required."`
	MaxQueue      int      `yaml:"max_queue" default:"0 (no queue)" desc:"Requests that may wait for a slot; beyond, they are rejected."`
	MaxWait       Duration `yaml:"max_wait" default:"0s (the request's own deadline)" desc:"Longest wait in the queue."`
}

// Route maps matching requests to an upstream through a pipeline of
// policies.
type Route struct {
	Name          string       `yaml:"name" required:"true" desc:"Unique name ([a-z0-9_-]+), used in metrics and logs. Required."`
	Match         Match        `yaml:"match" default:"every request" desc:"Which requests the route serves."`
	Upstream      string       `yaml:"upstream" required:"true" desc:"Name of the upstream (in upstreams) that serves the route. Required."`
	StripPrefix   string       `yaml:"strip_prefix" desc:"Prefix removed from the path before proxying; starts with /."`
	Timeout       Duration     `yaml:"timeout" default:"15s" desc:"Total time for a request, retries and hedges included."`
	PerTryTimeout Duration     `yaml:"per_try_timeout" default:"0s (none)" desc:"Time for one attempt; at most timeout."`
	Retry         *Retry       `yaml:"retry" default:"on, with its defaults" desc:"Retries, on another host when there is one. Only requests safe to repeat are retried: idempotent methods, requests with an Idempotency-Key, and requests whose connection failed before they were sent. {attempts: 1} turns them off."`
	Hedge         *Hedge       `yaml:"hedge" desc:"Hedged requests (idempotent methods only). Absent: off."`
	Bulkhead      *Bulkhead    `yaml:"bulkhead" desc:"Concurrency cap for the route. Absent: none."`
	RateLimit     *RateLimit   `yaml:"rate_limit" desc:"Rate limit for the route. Absent: none."`
	Idempotency   *Idempotency `yaml:"idempotency" desc:"Idempotency-Key handling. Absent: off."`
	Cache         *Cache       `yaml:"cache" desc:"Last-good-response cache for GET and HEAD. Absent: off."`
	Fallback      *Fallback    `yaml:"fallback" desc:"Static response when the upstream fails or the flag is off. Absent: the error is returned."`
	Flag          string       `yaml:"flag" desc:"Name of a flag (in flags) that gates the route; when off, the fallback serves, else 503."`
	Criticality   string       `yaml:"criticality" default:"default" enum:"critical_plus,critical,default,sheddable_plus,sheddable" desc:"Criticality of requests without the criticality header (critical_plus counts as critical, sheddable_plus as sheddable)."`
}

// Match selects requests. Every condition set must hold.
type Match struct {
	Host       string            `yaml:"host" default:"any host" desc:"Host, exact (\"api.example.com\") or a wildcard for one or more labels (\"*.example.com\"); case-insensitive, port ignored."`
	Path       string            `yaml:"path" desc:"Exact path; starts with /. Not with path_prefix."`
	PathPrefix string            `yaml:"path_prefix" default:"/ (unless path is set)" desc:"Path prefix (plain string prefix); starts with /. Not with path."`
	Methods    []string          `yaml:"methods" default:"any method" desc:"Methods, upper-case."`
	Headers    map[string]string `yaml:"headers" desc:"Header name to exact value; \"*\" means the header is present."`
}

// Retry configures retries of failed attempts. Only requests that are safe
// to send again are retried: idempotent methods (GET, HEAD, OPTIONS, TRACE,
// PUT, DELETE), requests with an Idempotency-Key, and any request whose
// connection failed before a byte of it was sent.
type Retry struct {
	Attempts            int      `yaml:"attempts" default:"3" desc:"Total attempts, the first included; 1 to 10. 1 turns retries off."`
	On                  []string `yaml:"on" default:"connect_failure, reset, 502, 503, 504" desc:"What is retried: connect_failure, reset, timeout (per-try), 5xx, or a status code (400-599)."`
	Backoff             Duration `yaml:"backoff" default:"25ms" desc:"Base delay of exponential backoff with full jitter."`
	MaxBackoff          Duration `yaml:"max_backoff" default:"1s" desc:"Cap of one backoff delay; at least backoff."`
	BudgetPercent       *Percent `yaml:"budget" default:"20%" desc:"Retries may add at most this share of the route's requests (retry budget); 100% lifts the cap."`
	MinRetriesPerSecond int      `yaml:"min_retries_per_second" default:"10" desc:"Retries always allowed per second, whatever the budget."`
	RetryAfterMax       Duration `yaml:"retry_after_max" default:"10s" desc:"Longest upstream Retry-After honored; a longer one ends retrying."`
}

// Hedge configures hedged requests: a further attempt is sent when the
// first is slow, and the first response wins. Set delay or percentile.
type Hedge struct {
	Delay      Duration `yaml:"delay" desc:"Send a hedge after this long without a response. Not with percentile."`
	Percentile Percent  `yaml:"percentile" desc:"Send a hedge after the route's observed latency at this percentile, such as 95%. Not with delay."`
	MaxHedges  int      `yaml:"max" default:"1" desc:"Most hedges per request; 1 to 5."`
}

// Idempotency configures Idempotency-Key handling (package idempotency).
type Idempotency struct {
	Store              string   `yaml:"store" default:"stores.idempotency" desc:"Store URL (see stores.idempotency). Required when stores.idempotency is not set."`
	Methods            []string `yaml:"methods" default:"POST, PATCH" desc:"Methods whose keyed requests are deduplicated."`
	Required           bool     `yaml:"required" default:"false" desc:"Answer 400 to a request of those methods without a key."`
	Lease              Duration `yaml:"lease" default:"30s" desc:"How long a claimed key stays claimed without a heartbeat."`
	Retention          Duration `yaml:"retention" default:"24h" desc:"How long a completed response is replayed; at least lease."`
	MaxWait            Duration `yaml:"max_wait" default:"0s (answer 409 at once)" desc:"How long a request whose key is in progress waits for the result."`
	Persistence        string   `yaml:"persistence" default:"safe-default" enum:"safe-default,stripe-v1" desc:"Which responses are stored and which release the key (idempotency.ParsePersistence)."`
	FingerprintHeaders []string `yaml:"fingerprint_headers" desc:"Request headers included in the fingerprint that detects a key reused for another request (422)."`
	Scope              string   `yaml:"scope" default:"credential" desc:"Whose keys are separate: \"credential\" (a hash of Authorization), \"header:<Name>\", or \"none\"."`
	FailOpen           bool     `yaml:"fail_open" default:"false" desc:"Proxy without deduplication when the store is unreachable, instead of 503."`
}

// Cache configures the last-good-response cache of a route.
type Cache struct {
	TTL          Duration `yaml:"ttl" default:"10s" desc:"How long a stored response is fresh."`
	MaxStale     Duration `yaml:"max_stale" default:"10m" desc:"How long past ttl a stored response may still be served when the upstream fails."`
	ServeFresh   bool     `yaml:"serve_fresh" default:"false" desc:"Serve fresh responses without calling the upstream; otherwise the cache is used only on failure."`
	MaxEntries   int      `yaml:"max_entries" default:"1000" desc:"Most responses kept (least recently used go first)."`
	MaxBodyBytes ByteSize `yaml:"max_body_bytes" default:"1MiB" desc:"Largest response body stored."`
	VaryHeaders  []string `yaml:"vary" desc:"Request headers that are part of the cache key, besides method, host, path and query."`
}

// Fallback is a static response served instead of a failure.
type Fallback struct {
	Status      int               `yaml:"status" default:"200" desc:"Status code; 100 to 599."`
	Body        string            `yaml:"body" desc:"Response body. Not with body_file."`
	BodyFile    string            `yaml:"body_file" desc:"File holding the body, relative to the config file. Not with body. Load reads it into body and clears this key."`
	ContentType string            `yaml:"content_type" default:"application/json if the body starts with { or [, else text/plain; charset=utf-8" desc:"Content-Type of the response."`
	Headers     map[string]string `yaml:"headers" desc:"Further response headers."`
	On          []string          `yaml:"on" default:"error, 5xx" desc:"When it serves: error (no response: connect failure, timeout, open breaker, no host, bulkhead or rate rejection), 5xx, 4xx, or a status code (400-599). A flag that is off always serves it."`
}

// Chaos configures the gateway's fault injector (package chaos).
type Chaos struct {
	Seed      uint64  `yaml:"seed" default:"0 (random, logged at start)" desc:"Seed of the random draws (percentages, jitter), so that a run can be replayed."`
	MaxActive int     `yaml:"max_active" default:"0 (no cap)" desc:"Most requests with an injected fault at once; others pass untouched."`
	Headers   bool    `yaml:"headers" default:"false" desc:"Honor X-Keel-Fault-Delay-Ms, -Abort-Status, -Throughput and -Percent request headers (Envoy-style). Anyone who can send a request can then slow or fail it: only for trusted clients."`
	Faults    []Fault `yaml:"faults" desc:"Faults active from the start."`
}

// Fault is one injected fault (chaos.Fault).
type Fault struct {
	ID             string            `yaml:"id" default:"<kind>-<n>" desc:"Name of the fault, to remove it through the admin API."`
	Kind           string            `yaml:"kind" required:"true" enum:"latency,error,abort,timeout,bandwidth" desc:"latency adds delay; error answers a status; abort resets the connection; timeout hangs; bandwidth throttles the response body."`
	Latency        Duration          `yaml:"latency" desc:"Delay of a latency fault."`
	Jitter         Duration          `yaml:"jitter" desc:"Spread of the delay: uniform over latency ± jitter."`
	Status         int               `yaml:"status" default:"500" desc:"Status of an error fault."`
	Body           string            `yaml:"body" default:"the status text" desc:"Body of an error fault."`
	MaxHang        Duration          `yaml:"max_hang" default:"0s (until the request's deadline)" desc:"Bound of a timeout fault."`
	BytesPerSecond ByteSize          `yaml:"bytes_per_second" desc:"Rate of a bandwidth fault, such as 64KiB."`
	Percent        *Percent          `yaml:"percent" default:"100%" desc:"Share of matching requests the fault hits, drawn from the seeded generator."`
	Route          string            `yaml:"route" desc:"Only requests of this route."`
	Host           string            `yaml:"host" desc:"Only attempts sent to this upstream host (host:port as in its targets): one bad replica."`
	PathPrefix     string            `yaml:"path_prefix" desc:"Only requests whose upstream path starts with this."`
	Headers        map[string]string `yaml:"headers" desc:"Only requests carrying these header values."`
	Duration       Duration          `yaml:"duration" default:"0s (until removed)" desc:"The fault expires this long after the gateway starts (or after it is added)."`
}
