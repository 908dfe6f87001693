package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/chaos"
	"github.com/keelhq/keel/flags"
	"github.com/keelhq/keel/gateway/config"
	"github.com/keelhq/keel/gateway/upstream"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/shed"
	"github.com/keelhq/keel/telemetry"
)

// Options are the parts of a Gateway that do not come from its
// configuration file.
type Options struct {
	// Logger receives the gateway's own log lines and, unless the
	// configuration turns it off, the access log. Nil means a JSON (or
	// text, per telemetry.log_format) logger on standard error at
	// telemetry.log_level.
	Logger *slog.Logger
	// ConfigPath is the file the configuration came from: ReloadFile reads
	// it again, and Watch watches it. Optional.
	ConfigPath string
	// Getenv expands ${VAR} in the configuration on ReloadFile. Nil means
	// os.Getenv.
	Getenv func(string) string
	// Watch reloads the configuration when ConfigPath changes on disk.
	Watch bool
	// Resolver resolves upstream host names. Nil means net.DefaultResolver.
	Resolver upstream.Resolver
}

// Gateway is Keel's reverse proxy. Build one with New, start its listeners
// with Start, change its configuration with Reload, and stop it with
// Shutdown. A Gateway is safe for concurrent use.
type Gateway struct {
	opts      Options
	logger    *slog.Logger
	accessLog bool

	prom       *telemetry.Prometheus
	metrics    *telemetry.Metrics
	httpClient *telemetry.HTTPClient
	observer   keel.Observer
	mw         *keelhttp.Middleware
	handler    http.Handler // mw around the router
	critHeader string

	flags  *flags.Set
	chaos  *chaos.Injector
	res    resources
	events *eventLog
	series *series
	extra  []adminRoute // handlers added to the admin API with HandleAdmin

	current atomic.Pointer[runtime]
	started time.Time

	mu          sync.Mutex // serializes reloads, flag and fault changes
	overrides   map[string]flags.Flag
	adminFaults map[string]chaos.Fault // faults added through the admin API, kept across reloads
	knownFaults map[string]chaos.Fault // the injector's faults as the timeline last showed them
	reloads     int64
	lastErr     string

	draining  atomic.Bool
	srv       server
	admin     *http.Server
	ln        net.Listener
	adminLn   net.Listener
	serveErr  chan error
	closing   chan struct{}
	closeOnce sync.Once
	bg        sync.WaitGroup // watcher and runtime retirements
}

// New builds a gateway from cfg, which must have passed cfg.Validate (as
// config.Load and config.Parse ensure). It opens the stores and upstream
// pools the configuration names but listens on nothing until Start.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	g := &Gateway{
		opts:      opts,
		logger:    opts.Logger,
		overrides: make(map[string]flags.Flag),
		events:    newEventLog(512),
		series:    newSeries(900),
		closing:   make(chan struct{}),
		serveErr:  make(chan error, 2),
		started:   time.Now(),
	}
	if g.logger == nil {
		g.logger = NewLogger(cfg.Telemetry, os.Stderr)
	}
	g.accessLog = cfg.Telemetry.AccessLog == nil || *cfg.Telemetry.AccessLog
	g.critHeader = cfg.Admission.CriticalityHeader
	if g.critHeader == "" {
		g.critHeader = keelhttp.CriticalityHeader
	}
	g.res = resources{logger: g.logger}
	if err := g.setupTelemetry(cfg); err != nil {
		return nil, err
	}
	if err := g.setupChaos(cfg); err != nil {
		return nil, err
	}
	fs, err := flags.NewSet(flagList(cfg.Flags)...)
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	g.flags = fs
	rt, err := g.build(cfg, nil)
	if err != nil {
		return nil, err
	}
	g.current.Store(rt)
	return g, nil
}

func (g *Gateway) setupTelemetry(cfg *config.Config) error {
	metricsOn := cfg.Telemetry.Metrics == nil || *cfg.Telemetry.Metrics
	observers := []keel.Observer{keel.ObserverFunc(g.observe)}
	if metricsOn {
		prom, err := telemetry.NewPrometheus(telemetry.PrometheusConfig{})
		if err != nil {
			return err
		}
		g.prom = prom
		g.metrics, err = telemetry.NewMetrics(telemetry.MetricsConfig{MeterProvider: prom.MeterProvider(), Histograms: prom.Histograms()})
		if err != nil {
			return err
		}
		observers = append(observers, g.metrics)
	}
	g.observer = keel.Observers(observers...)
	hcc := telemetry.HTTPClientConfig{}
	// The gateway exports no spans of its own: unless the program that
	// embeds it set a global TracerProvider, the server side only extracts
	// the caller's trace context (for the access log) and starts none.
	hsc := telemetry.HTTPServerConfig{DisableSpans: !telemetry.TracingConfigured()}
	if g.prom != nil {
		hcc.MeterProvider, hcc.Histograms = g.prom.MeterProvider(), g.prom.Histograms()
		hsc.MeterProvider, hsc.Histograms = g.prom.MeterProvider(), g.prom.Histograms()
	}
	var err error
	if g.httpClient, err = telemetry.NewHTTPClient(hcc); err != nil {
		return err
	}
	hs, err := telemetry.NewHTTPServer(hsc)
	if err != nil {
		return err
	}
	// The logger adds trace_id and span_id from the request's context
	// (NewLogger wraps its handler in telemetry.NewLogHandler).
	mc := keelhttp.MiddlewareConfig{Name: "gateway", Start: func(r *http.Request) (context.Context, func(keelhttp.RequestInfo)) {
		ctx, end := hs.Start(r)
		return ctx, func(info keelhttp.RequestInfo) {
			end(info)
			g.series.record(time.Now(), info)
		}
	}}
	if g.accessLog {
		mc.Logger = g.logger
	}
	if g.mw, err = keelhttp.NewMiddleware(mc); err != nil {
		return err
	}
	g.handler = traceRoot(g.mw.Wrap(http.HandlerFunc(g.route)))
	return nil
}

// traceRoot gives a request that arrives without a W3C traceparent a new
// one (not sampled), so that its access-log line and its upstream request
// share a trace ID.
func traceRoot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Traceparent"]; !ok {
			r.Header["Traceparent"] = []string{newTraceparent()}
		}
		next.ServeHTTP(w, r)
	})
}

const hexDigits = "0123456789abcdef"

func newTraceparent() string {
	var b [55]byte
	copy(b[:], "00-")
	hi, lo, span := rand.Uint64(), rand.Uint64()|1, rand.Uint64()|1
	putHex(b[3:19], hi)
	putHex(b[19:35], lo)
	b[35] = '-'
	putHex(b[36:52], span)
	copy(b[52:], "-00")
	return string(b[:])
}

func putHex(dst []byte, v uint64) {
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// ServeHTTP proxies r: the gateway's whole request path, without the
// listener. Start serves it on the configured address.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// route finds r's route in the current runtime and runs it.
func (g *Gateway) route(w http.ResponseWriter, r *http.Request) {
	rt := g.current.Load()
	rt.refs.Add(1)
	defer rt.refs.Add(-1)
	if rt.global != nil {
		if err := rt.global.allow(r.Context(), rt.global.keyOf(r)); err != nil {
			keelhttp.WriteError(w, r, err)
			return
		}
	}
	host := requestHost(r)
	for _, rte := range rt.routes {
		if rte.match.match(r, host) {
			rte.serve(w, r, rt.admission)
			return
		}
	}
	keelhttp.SetFlag(w, keelhttp.FlagNoRoute)
	keelhttp.WriteProblem(w, keelhttp.Problem{
		Type:     "about:blank",
		Title:    "Not Found",
		Status:   http.StatusNotFound,
		Detail:   "no route matches " + r.Method + " " + r.URL.Path,
		Instance: r.URL.Path,
		Flag:     keelhttp.FlagNoRoute,
	}, 0)
}

// criticality reads a request's criticality header.
func (g *Gateway) criticality(r *http.Request) (shed.Criticality, bool) {
	v := r.Header.Get(g.critHeader)
	if v == "" {
		return 0, false
	}
	c, err := shed.ParseCriticality(criticalityName(v))
	if err != nil {
		return 0, false
	}
	return c, true
}

// clientKey identifies a request's client for sticky flag rollouts: its
// credential if it has one, else its address.
func clientKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		return a
	}
	if ip, ok := clientIP(r); ok {
		return ip.String()
	}
	return r.RemoteAddr
}

// Start listens on the configured addresses and serves in the background.
// Errors from serving later are reported by Err.
func (g *Gateway) Start() error {
	cfg := g.current.Load().cfg
	srv, err := newServer(cfg.Listen, g.handler, g.logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen.Address)
	if err != nil {
		return fmt.Errorf("listen.address: %w", err)
	}
	g.srv, g.ln = srv, ln
	if a := cfg.Admin.Address; a != "" && a != "off" {
		aln, err := net.Listen("tcp", a)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("admin.address: %w", err)
		}
		g.adminLn = aln
		g.admin = &http.Server{
			Handler:           g.adminHandler(cfg.Admin),
			ReadHeaderTimeout: 5 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slogErrorLog(g.logger),
		}
		go g.serve(g.admin, aln)
	}
	go g.serve(srv, ln)
	g.watchFaults()
	if g.opts.Watch && g.opts.ConfigPath != "" {
		if err := g.watch(g.opts.ConfigPath); err != nil {
			g.logger.Warn("config file not watched", slog.String("path", g.opts.ConfigPath), slog.Any("error", err))
		}
	}
	g.logger.Info("gateway started", slog.String("address", ln.Addr().String()), slog.String("admin", g.AdminAddr()), slog.Int("routes", len(cfg.Routes)), slog.Int("upstreams", len(cfg.Upstreams)))
	return nil
}

func (g *Gateway) serve(srv server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		g.serveErr <- err
	}
}

// Err reports an error that stopped a listener after Start.
func (g *Gateway) Err() <-chan error { return g.serveErr }

// Addr is the proxy listener's address, after Start ("" before).
func (g *Gateway) Addr() string {
	if g.ln == nil {
		return ""
	}
	return g.ln.Addr().String()
}

// AdminAddr is the admin listener's address, after Start ("" before, or
// when the admin API is off).
func (g *Gateway) AdminAddr() string {
	if g.adminLn == nil {
		return ""
	}
	return g.adminLn.Addr().String()
}

// Shutdown drains the gateway: /readyz answers 503 at once; after the
// configuration's drain_delay the listener closes and in-flight requests
// may finish until ctx ends (the caller bounds it, typically with
// drain_timeout). Then the pools and stores close. It returns ctx's error
// if requests were still running when ctx ended.
func (g *Gateway) Shutdown(ctx context.Context) error {
	cfg := g.current.Load().cfg
	g.draining.Store(true)
	g.logger.InfoContext(ctx, "draining", slog.Duration("drain_delay", cfg.Listen.DrainDelay.Std()))
	if d := cfg.Listen.DrainDelay.Std(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	var err error
	if g.srv != nil {
		err = g.srv.Shutdown(ctx)
		if err != nil {
			_ = g.srv.Close()
		}
	}
	g.closeOnce.Do(func() { close(g.closing) })
	g.bg.Wait()
	if g.admin != nil {
		actx, cancel := context.WithTimeout(context.Background(), time.Second)
		// Handlers added with HandleAdmin that hold long requests (a
		// dashboard's event streams) end them first.
		for _, x := range g.extra {
			if s, ok := x.handler.(interface{ Shutdown(context.Context) error }); ok {
				_ = s.Shutdown(actx)
			}
		}
		if g.admin.Shutdown(actx) != nil {
			_ = g.admin.Close() // event streams never go idle
		}
		cancel()
	}
	rt := g.current.Load()
	g.closeRuntime(rt, nil)
	if g.prom != nil {
		_ = g.prom.Shutdown(context.Background())
	}
	g.logger.InfoContext(ctx, "gateway stopped")
	return err
}

// closeRuntime closes what rt holds that next does not share.
func (g *Gateway) closeRuntime(rt, next *runtime) {
	for name, p := range rt.pools {
		if next != nil && next.pools[name] == p {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.Close(ctx)
		cancel()
	}
	for _, release := range rt.held {
		release()
	}
}

// flagList turns the configuration's flags into flags.Flag values.
func flagList(m map[string]config.Flag) []flags.Flag {
	out := make([]flags.Flag, 0, len(m))
	for name, f := range m {
		ff := flags.Flag{Name: name, Enabled: f.Enabled == nil || *f.Enabled, Percent: 1, Description: f.Description}
		if f.Percent != nil {
			ff.Percent = f.Percent.Fraction()
		}
		out = append(out, ff)
	}
	return out
}

// hostEvent records an upstream host event.
func (g *Gateway) hostEvent(e upstream.Event) {
	// The pool logs the event itself; keep it for /events and the dashboard.
	detail := e.Reason
	if e.Duration > 0 {
		detail += " for " + e.Duration.String()
	}
	g.events.add(Event{Time: e.Time, Kind: "host_" + e.Kind.String(), Upstream: e.Upstream, Host: e.Host, Detail: detail})
}

// observe picks the policy events worth a log line and a place in the
// event log: breaker transitions and limit changes.
func (g *Gateway) observe(_ context.Context, e keel.Event) {
	if e.Kind != keel.EventStateChange || e.Policy != "breaker" {
		return
	}
	g.logger.LogAttrs(context.Background(), slog.LevelWarn, "breaker state changed", slog.String("breaker", e.Name), slog.String("from", e.From), slog.String("to", e.To))
	// Host breakers are named "<upstream>/<host:port>" by the pool.
	up, host, _ := strings.Cut(e.Name, "/")
	g.events.add(Event{Time: e.Time, Kind: "breaker_" + e.To, Upstream: up, Host: host, Detail: e.Name + ": " + e.From + " → " + e.To})
}
