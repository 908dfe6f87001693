package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/cache"
	"github.com/keelhq/keel/chaos"
	"github.com/keelhq/keel/gateway/upstream"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/shed"
)

// route is one compiled route: its matcher and the pipeline a matching
// request runs through. It never changes; a reload builds new routes.
type route struct {
	g        *Gateway
	name     string
	match    matcher
	upstream string
	pool     *upstream.Pool

	// transport sends a request upstream with every per-request policy:
	// stale-if-error cache → bulkhead → total/per-try timeouts and retries
	// (keelhttp.Transport) → the pool (host choice, host breaker, outlier
	// detection).
	transport http.RoundTripper
	// handler is the proxy behind the idempotency middleware, when the route
	// has one; else the proxy itself.
	handler http.Handler

	strip       string
	flag        string
	fallback    *fallback
	crit        shed.Criticality
	hasCrit     bool
	limiter     rateLimiter
	bulkhead    *bulkhead.Bulkhead
	cache       *cache.Cache
	cacheHeader string
	maxBody     int64
	fwd         *forwarding
}

// rateLimiter is a route's rate limit, local or shared.
type rateLimiter interface {
	// allow takes a token for key, or returns the rejection (a
	// *ratelimit.LimitedError, or a store error).
	allow(ctx context.Context, key string) error
	keyOf(r *http.Request) string
}

// serve runs a request that matched the route.
func (rt *route) serve(w http.ResponseWriter, r *http.Request, adm *admission) {
	if rt.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > rt.maxBody {
			writeTooLarge(w, r, rt.maxBody)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, rt.maxBody)
	}
	ctx := r.Context()
	if c, ok := rt.g.criticality(r); ok {
		ctx = shed.WithCriticality(ctx, c)
	} else if rt.hasCrit && rt.crit != shed.Default {
		ctx = shed.WithCriticality(ctx, rt.crit) // absent means Default
	}
	if rt.flag != "" && !rt.g.flags.EnabledFor(rt.flag, clientKey(r)) {
		if rt.fallback != nil {
			rt.fallback.write(w, keelhttp.FlagFeatureOff)
			return
		}
		keelhttp.WriteError(w, r, &featureOffError{flag: rt.flag})
		keelhttp.SetFlag(w, keelhttp.FlagFeatureOff)
		return
	}
	if rt.limiter != nil {
		if err := rt.limiter.allow(ctx, rt.limiter.keyOf(r)); err != nil {
			keelhttp.WriteError(w, r, err)
			return
		}
	}
	if adm != nil {
		done, err := adm.admit(ctx)
		if err != nil {
			keelhttp.WriteError(w, r, err)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() { done(sw.status) }()
		w = sw
	}
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	rt.handler.ServeHTTP(w, r)
}

// proxy sends r upstream and writes the answer: the upstream's response, a
// stale copy, the fallback, or the error's status.
func (rt *route) proxy(w http.ResponseWriter, r *http.Request) {
	ctx := chaos.WithRoute(upstream.WithAttemptTracker(r.Context()), rt.name)
	path := ""
	if rt.strip != "" {
		path = stripPrefix(r.URL.Path, rt.strip)
	}
	if upgradeType(r.Header) != "" {
		rt.upgrade(w, r, outgoing(ctx, r, rt.fwd, path))
		return
	}
	resp, err := rt.transport.RoundTrip(outgoing(ctx, r, rt.fwd, path))
	if err != nil {
		rt.fail(w, r, err)
		return
	}
	defer resp.Body.Close()
	if rt.fallback != nil && rt.fallback.onStatus(resp.StatusCode) {
		drain(resp.Body)
		rt.fallback.write(w, keelhttp.FlagFallback)
		return
	}
	if rt.cacheHeader != "" && resp.Header.Get(rt.cacheHeader) == "stale" {
		keelhttp.SetFlag(w, keelhttp.FlagStale)
	} else if resp.StatusCode >= 500 {
		keelhttp.SetFlag(w, keelhttp.FlagUpstreamStatus)
	}
	if err := copyResponse(w, resp); err != nil {
		// The status line is gone: break the connection so that the
		// client sees a truncated response rather than a short one.
		panic(http.ErrAbortHandler)
	}
}

// upgrade proxies a protocol upgrade (WebSocket): one attempt, straight to
// a host of the pool, then bytes both ways.
func (rt *route) upgrade(w http.ResponseWriter, r *http.Request, out *http.Request) {
	resp, err := rt.pool.RoundTrip(out)
	if err != nil {
		rt.fail(w, r, err)
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		if err := copyResponse(w, resp); err != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	if err := switchProtocols(r.Context(), w, resp); err != nil {
		rt.g.logger.LogAttrs(r.Context(), slog.LevelDebug, "upgraded connection ended", slog.String("route", rt.name), slog.Any("error", err))
	}
}

// fail answers a request whose upstream call returned no response.
func (rt *route) fail(w http.ResponseWriter, r *http.Request, err error) {
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeTooLarge(w, r, mbe.Limit) // the client's fault, not the upstream's
		return
	}
	if rt.fallback != nil && rt.fallback.onError && r.Context().Err() == nil {
		rt.fallback.write(w, keelhttp.FlagFallback)
		return
	}
	keelhttp.WriteError(w, r, err)
	if errors.Is(err, upstream.ErrNoHost) {
		keelhttp.SetFlag(w, keelhttp.FlagNoHealthyUpstream)
	}
}

// drain reads what is left of a discarded body, up to a limit, so that its
// connection can be reused.
func drain(body io.Reader) {
	_, _ = io.CopyN(io.Discard, body, 64<<10)
}

func writeTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	keelhttp.SetFlag(w, keelhttp.FlagBodyTooLarge)
	keelhttp.WriteProblem(w, keelhttp.Problem{
		Type:     "about:blank",
		Title:    http.StatusText(http.StatusRequestEntityTooLarge),
		Status:   http.StatusRequestEntityTooLarge,
		Detail:   "request body over " + strconv.FormatInt(limit, 10) + " bytes",
		Instance: r.URL.Path,
		Flag:     keelhttp.FlagBodyTooLarge,
	}, 0)
}

// featureOffError is why a request to a route whose flag is off fails.
type featureOffError struct{ flag string }

func (e *featureOffError) Error() string {
	return "gateway: feature " + strconv.Quote(e.flag) + " is off"
}

// Is makes the error a rejection: 503 with Retry-After.
func (e *featureOffError) Is(target error) bool { return target == keel.ErrRejected }

// statusWriter remembers the status a handler wrote, for the admission
// policies that judge outcomes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the underlying writer, for http.ResponseController and
// keelhttp.SetFlag.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
