package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keelhq/keel/keelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Instruments of the OpenTelemetry HTTP semantic conventions that
// [HTTPClient] and [HTTPServer] record.
const (
	// MetricHTTPClientDuration: how long each HTTP request attempt took on
	// the wire, from sending it until its response headers arrived or it
	// failed, by http.request.method, server.address, server.port,
	// http.response.status_code and error.type.
	MetricHTTPClientDuration = "http.client.request.duration"
	// MetricHTTPServerDuration: how long the server took for each request, by
	// http.request.method, url.scheme, http.route, http.response.status_code
	// and error.type.
	MetricHTTPServerDuration = "http.server.request.duration"
)

// Attribute keys of the HTTP semantic conventions, and Keel's own, that
// [HTTPClient] and [HTTPServer] set.
const (
	// AttrHTTPMethod is the request method: one of the nine standard
	// methods, or "_OTHER".
	AttrHTTPMethod attribute.Key = "http.request.method"
	// AttrHTTPMethodOriginal is the method as sent, on server spans whose
	// AttrHTTPMethod is "_OTHER".
	AttrHTTPMethodOriginal attribute.Key = "http.request.method_original"
	// AttrHTTPStatusCode is the response status code.
	AttrHTTPStatusCode attribute.Key = "http.response.status_code"
	// AttrHTTPRoute is the path of the http.ServeMux pattern that matched
	// ("/items/{id}").
	AttrHTTPRoute attribute.Key = "http.route"
	// AttrServerAddress is the server's host name or IP address, without
	// the port.
	AttrServerAddress attribute.Key = "server.address"
	// AttrServerPort is the server's port (client measurements).
	AttrServerPort attribute.Key = "server.port"
	// AttrURLScheme is "http" or "https" (server).
	AttrURLScheme attribute.Key = "url.scheme"
	// AttrURLPath is the request's URL path (server spans only, never
	// metrics).
	AttrURLPath attribute.Key = "url.path"
	// AttrUserAgent is the User-Agent header (server spans).
	AttrUserAgent attribute.Key = "user_agent.original"
	// AttrProtocolVersion is the HTTP version: "1.1", "2", … (server spans).
	AttrProtocolVersion attribute.Key = "network.protocol.version"
	// AttrErrorType is the semantic conventions' error.type: for HTTP, the
	// status code of a failed response ("503"), else a short name of the
	// failure ("timeout", "connect", …).
	AttrErrorType attribute.Key = "error.type"
	// AttrResponseFlag is the keelhttp response flag of a server request
	// ("UO", "RL", "DC", …; see keelhttp.StatusOf). Set on server spans
	// only when there is a flag.
	AttrResponseFlag attribute.Key = "keel.response_flag"
)

// httpOther is the semantic conventions' value for a method outside the
// known set, and the fallback error.type.
const httpOther = "_OTHER"

const (
	descHTTPClientDuration = "Duration of HTTP client request attempts."
	descHTTPServerDuration = "Duration of HTTP server requests."
)

// maxHTTPSeries bounds the attribute sets each HTTP instrument keeps. Further
// combinations are recorded with the single attribute
// otel.metric.overflow=true, as the OpenTelemetry SDK does beyond its
// cardinality limit.
const maxHTTPSeries = 2000

// HTTPClientConfig configures [HTTPClient]. The zero value is ready to use.
type HTTPClientConfig struct {
	// MeterProvider provides the meter of http.client.request.duration. Nil
	// means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator writes the trace context into request headers. Nil means
	// the global propagator (otel.GetTextMapPropagator) if the program has
	// set one with otel.SetTextMapPropagator before NewHTTPClient, else
	// propagation.TraceContext{} (W3C traceparent and tracestate).
	Propagator propagation.TextMapPropagator
	// Buckets are the histogram's upper bounds in seconds, as in
	// MetricsConfig. Nil means DefaultBuckets.
	Buckets []float64
	// Histograms, when not nil, aggregates the histogram in process, as
	// MetricsConfig.Histograms does ([Prometheus.Histograms]).
	Histograms *Histograms
}

// Validate reports the first problem with c, naming the field.
func (c *HTTPClientConfig) Validate() error {
	return validateBuckets("HTTPClientConfig.Buckets", c.Buckets)
}

// HTTPClient connects a keelhttp.Transport to OpenTelemetry: [HTTPClient.Inject]
// is its TransportConfig.Inject, and [HTTPClient.RoundTripper] wraps its
// Base to measure http.client.request.duration once per attempt sent:
//
//	hc := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{})
//	t := keelhttp.MustNewTransport(keelhttp.TransportConfig{
//		Base:     hc.RoundTripper(nil),
//		Inject:   hc.Inject,
//		Observer: keel.Observers(metrics, tracing),
//	})
//
// HTTPClient starts no span: the span of the call is the one in the request's
// context (a [Tracing] around the call, which also gets an event per attempt
// from the Observer); Inject sends it to the server as the parent of the
// server's spans.
//
// Use [NewHTTPClient]; the zero HTTPClient is not usable. An HTTPClient is
// safe for concurrent use.
type HTTPClient struct {
	prop     propagation.TextMapPropagator
	duration httpHistogram
}

// NewHTTPClient returns an HTTPClient configured by cfg, or the error of
// cfg.Validate or of the meter provider.
func NewHTTPClient(cfg HTTPClientConfig) (*HTTPClient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &HTTPClient{prop: propagator(cfg.Propagator)}
	if err := c.duration.init(cfg.MeterProvider, MetricHTTPClientDuration, descHTTPClientDuration,
		cfg.Buckets, cfg.Histograms, clientAttrs); err != nil {
		return nil, err
	}
	return c, nil
}

// MustNewHTTPClient is like [NewHTTPClient] but panics on error.
func MustNewHTTPClient(cfg HTTPClientConfig) *HTTPClient {
	c, err := NewHTTPClient(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// Inject writes the trace context of ctx (W3C traceparent and tracestate,
// with the default propagator) into h. Its signature is that of
// keelhttp.TransportConfig.Inject, which calls it for every attempt with the
// attempt's own copy of the headers.
func (c *HTTPClient) Inject(ctx context.Context, h http.Header) {
	c.prop.Inject(ctx, headerCarrier(h))
}

// RoundTripper returns base wrapped so that every request it sends records
// one http.client.request.duration measurement: the time until base's
// RoundTrip returned (response headers received, or the error), not the
// time spent reading the body. Nil base means http.DefaultTransport. Give it
// to keelhttp.TransportConfig.Base, so that each attempt the Transport sends
// is measured, retries included; an attempt refused by a breaker never
// reaches it.
//
// Attributes: http.request.method (one of the nine standard methods, else
// "_OTHER"), server.address and server.port (from the URL, the port
// defaulting to 80 or 443), http.response.status_code when there is a
// response, and error.type: the status code for 4xx and 5xx responses, else
// for errors "timeout", "canceled", "connect" (the connection could not be
// established), "connection_reset" or "_OTHER".
func (c *HTTPClient) RoundTripper(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &clientRoundTripper{c: c, base: base}
}

type clientRoundTripper struct {
	c    *HTTPClient
	base http.RoundTripper
}

func (rt *clientRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	begin := time.Now()
	resp, err := rt.base.RoundTrip(req)
	d := time.Since(begin)
	k := httpKey{method: normalizeMethod(req.Method)}
	if req.URL != nil {
		k.address, k.port = hostPort(req.URL.Host, req.URL.Scheme)
	}
	switch {
	case err != nil:
		k.errType = clientErrorType(err)
	case resp != nil:
		k.status = resp.StatusCode
		if resp.StatusCode >= 400 {
			k.errType = statusString(resp.StatusCode)
		}
	}
	rt.c.duration.record(req.Context(), k, d)
	return resp, err
}

// CloseIdleConnections closes the idle connections of the base
// RoundTripper, if it has such a method.
func (rt *clientRoundTripper) CloseIdleConnections() {
	if ci, ok := rt.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// HTTPServerConfig configures [HTTPServer]. The zero value is ready to use.
type HTTPServerConfig struct {
	// TracerProvider provides the tracer of the server spans. Nil means
	// otel.GetTracerProvider(). With a noop.TracerProvider (package
	// go.opentelemetry.io/otel/trace/noop) no span is started at all: Start
	// only extracts the caller's trace context, which then stays in the
	// request's context for logs and propagation.
	TracerProvider trace.TracerProvider
	// DisableSpans starts no span whatever the TracerProvider, as a
	// noop.TracerProvider does.
	DisableSpans bool
	// MeterProvider provides the meter of http.server.request.duration. Nil
	// means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator reads the caller's trace context from the request headers.
	// Nil means the global propagator if the program has set one before
	// NewHTTPServer, else propagation.TraceContext{}.
	Propagator propagation.TextMapPropagator
	// Buckets are the histogram's upper bounds in seconds, as in
	// MetricsConfig. Nil means DefaultBuckets.
	Buckets []float64
	// Histograms, when not nil, aggregates the histogram in process, as
	// MetricsConfig.Histograms does ([Prometheus.Histograms]).
	Histograms *Histograms
}

// Validate reports the first problem with c, naming the field.
func (c *HTTPServerConfig) Validate() error {
	return validateBuckets("HTTPServerConfig.Buckets", c.Buckets)
}

// HTTPServer connects a keelhttp.Middleware to OpenTelemetry:
// [HTTPServer.Start] is its MiddlewareConfig.Start and [TraceID] its
// MiddlewareConfig.TraceID:
//
//	hs := telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{})
//	mw := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
//		Start:   hs.Start,
//		TraceID: telemetry.TraceID,
//		Logger:  logger,
//	})
//	srv := &http.Server{Handler: mw.Wrap(mux)}
//
// Use [NewHTTPServer]; the zero HTTPServer is not usable. An HTTPServer is
// safe for concurrent use.
type HTTPServer struct {
	prop     propagation.TextMapPropagator
	tracer   trace.Tracer
	duration httpHistogram
	names    spanNames
	reqs     sync.Pool // of *serverRequest
}

// NewHTTPServer returns an HTTPServer configured by cfg, or the error of
// cfg.Validate or of the meter provider.
func NewHTTPServer(cfg HTTPServerConfig) (*HTTPServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	s := &HTTPServer{prop: propagator(cfg.Propagator)}
	if _, off := tp.(noop.TracerProvider); !off && !cfg.DisableSpans {
		s.tracer = tp.Tracer(ScopeName)
	}
	if err := s.duration.init(cfg.MeterProvider, MetricHTTPServerDuration, descHTTPServerDuration,
		cfg.Buckets, cfg.Histograms, serverAttrs); err != nil {
		return nil, err
	}
	s.reqs.New = func() any {
		sr := &serverRequest{s: s}
		sr.endFn = sr.end
		return sr
	}
	return s, nil
}

// MustNewHTTPServer is like [NewHTTPServer] but panics on error.
func MustNewHTTPServer(cfg HTTPServerConfig) *HTTPServer {
	s, err := NewHTTPServer(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Start has the signature of keelhttp.MiddlewareConfig.Start. It extracts
// the caller's trace context from r's headers and starts a server span that
// is its child (or a root span when there is none), and returns the
// span's context and the function the middleware calls, exactly once, at
// the end of the request.
//
// The span is named "METHOD ROUTE" when the route is known, else "METHOD"
// (the semantic conventions keep URL paths out of span names: they have too
// many values). The route is the path part of the http.ServeMux pattern that
// matched ("/orders/{id}"): known at Start when the middleware wraps each
// route's handler, else at the end (keelhttp.RequestInfo.Pattern), when the
// span is renamed. Attributes at start: http.request.method, url.scheme,
// url.path, server.address, network.protocol.version, user_agent.original
// (when sent), http.request.method_original (for "_OTHER") and http.route
// (when known).
//
// At the end the span gets http.response.status_code, http.route,
// keel.response_flag (when there is a flag) and, for a 5xx status or a
// response the handler aborted, status Error and error.type (the status
// code, or the flag of an aborted response); a RequestInfo.Err is recorded
// as an exception event. One http.server.request.duration measurement of
// RequestInfo.Duration is recorded with http.request.method, url.scheme,
// http.route (when known), http.response.status_code and error.type (when
// set).
func (s *HTTPServer) Start(r *http.Request) (context.Context, func(keelhttp.RequestInfo)) {
	ctx := s.prop.Extract(r.Context(), headerCarrier(r.Header))
	sr := s.reqs.Get().(*serverRequest)
	sr.method = normalizeMethod(r.Method)
	sr.scheme = "http"
	if r.TLS != nil {
		sr.scheme = "https"
	}
	sr.route = routeOf(r.Pattern)
	if s.tracer == nil {
		sr.ctx = ctx
		return ctx, sr.endFn
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		AttrHTTPMethod.String(sr.method),
		AttrURLScheme.String(sr.scheme),
		AttrURLPath.String(r.URL.Path),
		AttrServerAddress.String(hostOnly(r.Host)),
		AttrProtocolVersion.String(protocolVersion(r.ProtoMajor, r.ProtoMinor)),
	)
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, AttrUserAgent.String(ua))
	}
	if sr.method == httpOther {
		attrs = append(attrs, AttrHTTPMethodOriginal.String(r.Method))
	}
	if sr.route != "" {
		attrs = append(attrs, AttrHTTPRoute.String(sr.route))
	}
	sr.opts[0], sr.opts[1] = serverKind, trace.WithAttributes(attrs...)
	ctx, sr.span = s.tracer.Start(ctx, s.names.get(sr.method, sr.route), sr.opts[:]...)
	sr.ctx = ctx
	return ctx, sr.endFn
}

// serverRequest is the state of one request between Start and its end
// function. They are pooled; endFn is end, bound once, so that Start
// allocates no closure.
type serverRequest struct {
	s      *HTTPServer
	endFn  func(keelhttp.RequestInfo)
	ctx    context.Context // the span's, for exemplars
	span   trace.Span
	method string
	scheme string
	route  string // known at Start
	opts   [2]trace.SpanStartOption
}

var serverKind = trace.WithSpanKind(trace.SpanKindServer)

func (sr *serverRequest) end(ri keelhttp.RequestInfo) {
	s, span := sr.s, sr.span
	route := sr.route
	if route == "" {
		route = routeOf(ri.Pattern)
	}
	var errType string
	switch {
	case ri.Status >= 500:
		errType = statusString(ri.Status)
	case errors.Is(ri.Err, keelhttp.ErrPanic) || errors.Is(ri.Err, http.ErrAbortHandler):
		errType = ri.Flag // the response was broken off
		if errType == "" {
			errType = httpOther
		}
	}
	if span != nil && span.IsRecording() {
		if route != "" && sr.route == "" {
			span.SetName(s.names.get(sr.method, route))
		}
		attrs := make([]attribute.KeyValue, 0, 4)
		attrs = append(attrs, AttrHTTPStatusCode.Int(ri.Status))
		if route != "" && sr.route == "" {
			attrs = append(attrs, AttrHTTPRoute.String(route))
		}
		if ri.Flag != "" {
			attrs = append(attrs, AttrResponseFlag.String(ri.Flag))
		}
		if errType != "" {
			attrs = append(attrs, AttrErrorType.String(errType))
			span.SetStatus(codes.Error, "")
		}
		span.SetAttributes(attrs...)
		if ri.Err != nil {
			span.RecordError(ri.Err)
		}
	}
	if span != nil {
		span.End()
	}
	s.duration.record(sr.ctx, httpKey{
		method: sr.method, scheme: sr.scheme, route: route, status: ri.Status, errType: errType,
	}, ri.Duration)
	*sr = serverRequest{s: s, endFn: sr.endFn}
	s.reqs.Put(sr)
}

// TraceID returns the trace ID of the span in ctx as 32 hex digits, or "" when
// ctx carries no valid span context. Its signature is that of
// keelhttp.MiddlewareConfig.TraceID, for the access log. (A logger whose
// handler is a [LogHandler] adds trace_id by itself: use one or the other.)
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// propagator returns p, or the default described on HTTPClientConfig.
func propagator(p propagation.TextMapPropagator) propagation.TextMapPropagator {
	if p != nil {
		return p
	}
	if g := otel.GetTextMapPropagator(); len(g.Fields()) > 0 {
		return g
	}
	return propagation.TraceContext{}
}

// spanNames caches span names by method and route, so that naming a span
// allocates nothing. Methods are normalized and routes are patterns, so the
// set stays small; past maxHTTPSeries names are built each time.
type spanNames struct {
	mu sync.Mutex // serializes additions
	m  atomic.Pointer[map[[2]string]string]
}

func (sn *spanNames) get(method, route string) string {
	k := [2]string{method, route}
	if m := sn.m.Load(); m != nil {
		if name, ok := (*m)[k]; ok {
			return name
		}
	}
	name := spanName(method, route)
	sn.mu.Lock()
	defer sn.mu.Unlock()
	old := sn.m.Load()
	if lenOf(old) >= maxHTTPSeries {
		return name
	}
	m := make(map[[2]string]string, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[k] = name
	sn.m.Store(&m)
	return name
}

// spanName is "METHOD ROUTE", or "METHOD" without a route; "HTTP" stands for
// a method outside the standard set.
func spanName(method, route string) string {
	if method == httpOther {
		method = "HTTP"
	}
	if route == "" {
		return method
	}
	return method + " " + route
}

// routeOf returns the path part of a ServeMux pattern ("GET host/a/{id}" →
// "/a/{id}"), or "".
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// normalizeMethod returns m if it is one of the standard methods, else
// "_OTHER", which keeps the attribute's values few.
func normalizeMethod(m string) string {
	switch m {
	case "", http.MethodGet:
		return http.MethodGet
	case http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodConnect,
		http.MethodOptions, http.MethodTrace, http.MethodPatch:
		return m
	}
	return httpOther
}

// hostPort splits a URL host or Host header into address and port, the port
// defaulting by scheme (0 when unknown). Unlike net.SplitHostPort it
// allocates nothing, and it accepts a host without a port.
func hostPort(host, scheme string) (string, int) {
	h, p := host, ""
	if strings.HasPrefix(host, "[") { // [v6] or [v6]:port
		if i := strings.IndexByte(host, ']'); i > 0 {
			h = host[1:i]
			if rest := host[i+1:]; strings.HasPrefix(rest, ":") {
				p = rest[1:]
			}
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i+1:], ':') < 0 {
		h, p = host[:i], host[i+1:]
	}
	if p != "" {
		if port, err := strconv.Atoi(p); err == nil && port >= 0 && port <= 65535 {
			return h, port
		}
		return h, 0
	}
	switch scheme {
	case "https":
		return h, 443
	case "http":
		return h, 80
	}
	return h, 0
}

// hostOnly returns the host of a Host header without its port.
func hostOnly(host string) string {
	h, _ := hostPort(host, "")
	return h
}

func protocolVersion(major, minor int) string {
	switch {
	case major == 1 && minor == 1:
		return "1.1"
	case major == 2:
		return "2"
	case major == 1 && minor == 0:
		return "1.0"
	case major == 3:
		return "3"
	}
	return strconv.Itoa(major) + "." + strconv.Itoa(minor)
}

// statusStrings holds the decimal form of every status code, so that
// error.type costs no allocation.
var statusStrings = func() []string {
	s := make([]string, 600)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusString(code int) string {
	if code >= 0 && code < len(statusStrings) {
		return statusStrings[code]
	}
	return strconv.Itoa(code)
}

// clientErrorType names the failure of an attempt that got no response.
func clientErrorType(err error) string {
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	if ne, ok := errors.AsType[net.Error](err); errors.Is(err, context.DeadlineExceeded) || ok && ne.Timeout() {
		return "timeout"
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return "connect"
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection_reset"
	}
	return httpOther
}

// headerCarrier is propagation.HeaderCarrier with the keys of the usual
// propagators already in canonical form, which saves http.Header an
// allocation per lookup.
type headerCarrier http.Header

func canonicalField(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

func (hc headerCarrier) Get(key string) string {
	if v := hc[canonicalField(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (hc headerCarrier) Set(key, value string) { hc[canonicalField(key)] = []string{value} }

func (hc headerCarrier) Keys() []string { return propagation.HeaderCarrier(hc).Keys() }

func (hc headerCarrier) Values(key string) []string { return hc[canonicalField(key)] }

// validateBuckets checks histogram bounds as MetricsConfig.Validate does.
func validateBuckets(field string, buckets []float64) error {
	for i, b := range buckets {
		switch {
		case math.IsNaN(b) || math.IsInf(b, 0):
			return fmt.Errorf("telemetry: %s[%d] is %v, want a finite number", field, i, b)
		case b <= 0:
			return fmt.Errorf("telemetry: %s[%d] is %v, want > 0", field, i, b)
		case i > 0 && b <= buckets[i-1]:
			return fmt.Errorf("telemetry: %s[%d] is %v, want > %s[%d] (%v)", field, i, b, field, i-1, buckets[i-1])
		}
	}
	return nil
}

// httpKey is the attribute combination of one HTTP measurement; fields that
// do not apply are zero.
type httpKey struct {
	method, scheme, route, address, errType string
	port, status                            int
}

// httpSeries is what one attribute combination records into.
type httpSeries struct {
	opts  []metric.RecordOption // for the SDK histogram
	local *localHist            // for in-process Histograms
}

// httpHistogram is one HTTP duration histogram with its series, built on
// first use and kept in a copy-on-write map: recording a known combination
// takes no lock and allocates nothing.
type httpHistogram struct {
	name, desc string
	buckets    []float64
	sdk        metric.Float64Histogram
	local      *Histograms
	attrs      func(httpKey) []attribute.KeyValue

	mu       sync.Mutex // serializes additions to m
	m        atomic.Pointer[map[httpKey]*httpSeries]
	overflow *httpSeries
}

func (h *httpHistogram) init(mp metric.MeterProvider, name, desc string, buckets []float64, local *Histograms,
	attrs func(httpKey) []attribute.KeyValue) error {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if buckets == nil {
		buckets = DefaultBuckets
	}
	h.name, h.desc, h.buckets, h.local, h.attrs = name, desc, buckets, local, attrs
	if local == nil {
		var err error
		h.sdk, err = mp.Meter(ScopeName).Float64Histogram(name, metric.WithUnit("s"),
			metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(buckets...))
		if err != nil {
			return fmt.Errorf("telemetry: creating %s: %w", name, err)
		}
	}
	return nil
}

func (h *httpHistogram) record(ctx context.Context, k httpKey, d time.Duration) {
	s := h.series(k)
	if s.local != nil {
		s.local.record(d)
		return
	}
	h.sdk.Record(ctx, d.Seconds(), s.opts...)
}

func (h *httpHistogram) series(k httpKey) *httpSeries {
	if m := h.m.Load(); m != nil {
		if s, ok := (*m)[k]; ok {
			return s
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.m.Load()
	if old != nil {
		if s, ok := (*old)[k]; ok {
			return s
		}
		if len(*old) >= maxHTTPSeries {
			if h.overflow == nil {
				h.overflow = h.newSeries(attribute.NewSet(attribute.Bool("otel.metric.overflow", true)))
			}
			return h.overflow
		}
	}
	m := make(map[httpKey]*httpSeries, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	s := h.newSeries(attribute.NewSet(h.attrs(k)...))
	m[k] = s
	h.m.Store(&m)
	return s
}

func (h *httpHistogram) newSeries(set attribute.Set) *httpSeries {
	if h.local != nil {
		return &httpSeries{local: h.local.add(h.name, h.desc, set, h.buckets)}
	}
	return &httpSeries{opts: []metric.RecordOption{metric.WithAttributeSet(set)}}
}

func clientAttrs(k httpKey) []attribute.KeyValue {
	attrs := []attribute.KeyValue{AttrHTTPMethod.String(k.method), AttrServerAddress.String(k.address)}
	if k.port != 0 {
		attrs = append(attrs, AttrServerPort.Int(k.port))
	}
	if k.status != 0 {
		attrs = append(attrs, AttrHTTPStatusCode.Int(k.status))
	}
	if k.errType != "" {
		attrs = append(attrs, AttrErrorType.String(k.errType))
	}
	return attrs
}

func serverAttrs(k httpKey) []attribute.KeyValue {
	attrs := []attribute.KeyValue{AttrHTTPMethod.String(k.method), AttrURLScheme.String(k.scheme),
		AttrHTTPStatusCode.Int(k.status)}
	if k.route != "" {
		attrs = append(attrs, AttrHTTPRoute.String(k.route))
	}
	if k.errType != "" {
		attrs = append(attrs, AttrErrorType.String(k.errType))
	}
	return attrs
}

// TracingConfigured reports whether the program has set a global
// OpenTelemetry TracerProvider (otel.SetTracerProvider). Until it does, the
// global provider hands out tracers whose spans go nowhere, and a server
// that exports nothing can skip them (HTTPServerConfig.DisableSpans). A
// program that embeds a server and wants its spans sets the provider first.
func TracingConfigured() bool {
	t := reflect.TypeOf(otel.GetTracerProvider())
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() != "go.opentelemetry.io/otel/internal/global"
}
