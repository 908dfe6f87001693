package h1

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Transport's fields.
const (
	DefaultMaxIdleConnsPerHost    = 64
	DefaultIdleConnTimeout        = 90 * time.Second
	DefaultProbeAfter             = time.Second
	DefaultMaxResponseHeaderBytes = 1 << 20
	DefaultConnectTimeout         = 5 * time.Second

	// maxReplays bounds how often one request is sent again after a
	// reused connection turned out to be closed.
	maxReplays = 3
	// max1xx bounds the informational responses skipped before the final
	// one.
	max1xx = 5
	// maxRawHeader is the largest request header buffer kept for the
	// next request on a connection.
	maxRawHeader = 64 << 10
	// maxWriteWait bounds how long a complete response waits for the
	// writer of its request's body to report before the connection is
	// closed rather than reused (net/http waits as long).
	maxWriteWait = 50 * time.Millisecond
)

// Errors of the transport. Connection failures are returned as the network
// errors they are (a failed dial is a *net.OpError with Op "dial"); a
// connection closed before a complete response wraps io.EOF or
// io.ErrUnexpectedEOF.
var (
	// ErrClosed is returned by RoundTrip once Close was called.
	ErrClosed = errors.New("h1: transport closed")
	// ErrUnsupported is returned for requests the transport does not carry
	// when it has no Fallback.
	ErrUnsupported = errors.New("h1: request needs a feature this transport lacks and no fallback is set")
	// ErrHeaderTooLarge is returned when the response header exceeds
	// MaxResponseHeaderBytes.
	ErrHeaderTooLarge = errors.New("h1: response header too large")
)

// Transport is an http.RoundTripper for "http" URLs that keeps alive
// connections per host ("host:port" of the request URL).
//
// The zero Transport is usable: it dials with a 5s connect timeout and
// keeps up to 64 idle connections per host for 90s. A Transport is safe for
// concurrent use; set its fields before the first request. A URL host
// without a port is dialed on port 80.
type Transport struct {
	// DialContext opens connections. Nil means a net.Dialer with a 5s
	// timeout and 30s TCP keep-alive.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxConnsPerHost bounds the connections to one host, dialing, in use
	// and idle; a request waits for one (as long as its context allows).
	// Zero means no bound.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost bounds the idle connections kept per host. Zero
	// means 64; negative keeps none.
	MaxIdleConnsPerHost int
	// IdleConnTimeout is how long an idle connection is kept. Zero means
	// 90s.
	IdleConnTimeout time.Duration
	// ProbeAfter is how long a connection may sit idle before it is checked
	// for a close by the server (a non-blocking peek, one system call)
	// before reuse. Zero means 1s; negative never checks.
	ProbeAfter time.Duration
	// MaxResponseHeaderBytes bounds the response header (status line and
	// fields). Zero means 1 MiB.
	MaxResponseHeaderBytes int64
	// Fallback carries the requests this transport does not (see the
	// package documentation). Nil means they fail with ErrUnsupported.
	Fallback http.RoundTripper

	dialer  net.Dialer
	initMu  sync.Once
	mu      sync.Mutex                            // host map writes, closed
	hosts   atomic.Pointer[map[string]*hostConns] // copy on write
	closed  bool
	nDialed atomic.Int64
}

var _ http.RoundTripper = (*Transport)(nil)

// Dials reports how many connections the transport has opened.
func (t *Transport) Dials() int64 { return t.nDialed.Load() }

// RoundTrip sends req and reads the response header. The response body
// must be read to EOF (the connection then goes back to the pool) or
// closed (the connection is then closed).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Carries(req) {
		if t.Fallback != nil {
			return t.Fallback.RoundTrip(req)
		}
		closeBody(req)
		return nil, ErrUnsupported
	}
	ctx := req.Context()
	if ctx.Err() != nil {
		closeBody(req)
		return nil, context.Cause(ctx)
	}
	if err := validate(req); err != nil {
		closeBody(req)
		return nil, err
	}
	hc := t.host(req.URL.Host)
	if hc == nil {
		closeBody(req)
		return nil, ErrClosed
	}
	for replay := 0; ; replay++ {
		pc, err := hc.get(ctx)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := pc.roundTrip(req) // closes req.Body, or has it closed
		if err == nil {
			return resp, nil
		}
		if !pc.reused || replay >= maxReplays || !errors.Is(err, errStale) || !replayable(req) {
			return nil, err
		}
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// Carries reports whether the transport sends req itself rather than
// through Fallback.
func Carries(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.Method == http.MethodConnect {
		return false
	}
	if len(req.Trailer) > 0 || req.Header["Upgrade"] != nil {
		return false
	}
	if req.ContentLength == 0 && req.Body != nil && req.Body != http.NoBody {
		return false
	}
	if te := req.TransferEncoding; len(te) > 0 && (len(te) != 1 || te[0] != "chunked") {
		return false
	}
	if v := req.Header["Expect"]; v != nil {
		return false
	}
	return true
}

// CloseIdleConnections closes the idle connections, the Fallback's too.
// Connections in use are closed when their response ends.
func (t *Transport) CloseIdleConnections() {
	if f, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		f.CloseIdleConnections()
	}
	m := t.hosts.Load()
	if m == nil {
		return
	}
	for _, hc := range *m {
		hc.closeIdle()
	}
}

// Close closes the idle connections and makes every later RoundTrip fail
// with ErrClosed; connections in use are closed when their response ends.
// The Fallback is not closed.
func (t *Transport) Close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	m := t.hosts.Load()
	if m == nil {
		return
	}
	for _, hc := range *m {
		hc.shut()
	}
}

// host returns the connection pool of addr, creating it on first use; nil
// once the transport is closed.
func (t *Transport) host(addr string) *hostConns {
	if m := t.hosts.Load(); m != nil {
		if hc := (*m)[addr]; hc != nil {
			return hc
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	old := t.hosts.Load()
	if old != nil {
		if hc := (*old)[addr]; hc != nil {
			return hc
		}
	}
	m := make(map[string]*hostConns, 1+lenMap(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	hc := newHostConns(t, dialAddr(addr))
	m[addr] = hc
	t.hosts.Store(&m)
	return hc
}

// dialAddr returns the address to dial for a URL's host: with port 80 when
// it names none, as net/http does.
func dialAddr(host string) string {
	u := url.URL{Host: host}
	if u.Port() != "" {
		return host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func lenMap(m *map[string]*hostConns) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	t.nDialed.Add(1)
	if t.DialContext != nil {
		return t.DialContext(ctx, "tcp", addr)
	}
	t.initMu.Do(func() {
		t.dialer = net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second}
	})
	return t.dialer.DialContext(ctx, "tcp", addr)
}

func (t *Transport) maxIdle() int {
	switch {
	case t.MaxIdleConnsPerHost == 0:
		return DefaultMaxIdleConnsPerHost
	case t.MaxIdleConnsPerHost < 0:
		return 0
	}
	return t.MaxIdleConnsPerHost
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleConnTimeout <= 0 {
		return DefaultIdleConnTimeout
	}
	return t.IdleConnTimeout
}

func (t *Transport) probeAfter() time.Duration {
	if t.ProbeAfter == 0 {
		return DefaultProbeAfter
	}
	return t.ProbeAfter
}

func (t *Transport) maxHeader() int64 {
	if t.MaxResponseHeaderBytes <= 0 {
		return DefaultMaxResponseHeaderBytes
	}
	return t.MaxResponseHeaderBytes
}

// replayable reports whether req may be sent again after a reused
// connection failed under it: its body can be sent again, and the method
// is idempotent or the request carries an idempotency key (net/http's
// rule).
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header["Idempotency-Key"] != nil || req.Header["X-Idempotency-Key"] != nil
}

// rewind returns req ready to be sent again: a shallow copy with a fresh
// body from GetBody when it has one.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := *req
	r.Body = body
	return &r, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
