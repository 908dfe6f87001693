package keelhttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/internal/deadline"
)

// DefaultMaxDeadline bounds the deadline a request may ask for through the
// DeadlineHeader when MiddlewareConfig.MaxDeadline is zero.
const DefaultMaxDeadline = 60 * time.Second

// RequestInfo describes a finished request, for MiddlewareConfig.Start's end
// function.
type RequestInfo struct {
	// Method and Path are the request's method and URL path.
	Method, Path string
	// Pattern is the route pattern that matched the request
	// (http.Request.Pattern, such as "GET /orders/{id}"), set when the
	// wrapped handler is, or leads to, an http.ServeMux; "" otherwise.
	// Unlike Path, it has few values, so it suits metric attributes and
	// span names.
	Pattern string
	// Status is the status code sent (200 if the handler wrote nothing).
	Status int
	// Bytes is the number of body bytes written.
	Bytes int64
	// Duration is the time from the start of the middleware to the end of
	// the request.
	Duration time.Duration
	// Flag is the response flag ("" for none); see StatusOf.
	Flag string
	// Err is why the request did not end normally: the admission policy's
	// rejection, ErrNoTimeLeft, ErrPanic, or http.ErrAbortHandler when the
	// handler aborted the response. Nil when the handler ran to its end.
	Err error
}

// Middleware is server-side HTTP middleware: it recovers panics into a 500
// problem+json response, turns the DeadlineHeader into the request context's
// deadline, runs an admission policy, and writes an access-log line. Build one
// with [NewMiddleware] and wrap handlers with [Middleware.Wrap]. A Middleware
// is immutable and safe for concurrent use; the zero Middleware is not usable.
//
// For each request, in order:
//
//  1. Start (if set) gives the request's context, and its end function is
//     deferred.
//  2. A DeadlineHeader of n milliseconds gives the context a deadline of
//     now + min(n, MaxDeadline). n = 0 means the caller has no time left:
//     the answer is 504 (flag DT) without running the handler. A header that
//     is not a non-negative integer is ignored.
//  3. A [CriticalityHeader] puts its criticality into the context
//     (shed.WithCriticality), where a *shed.Shedder in Admission finds it.
//  4. The handler runs under Admission (if set). A rejection is answered
//     with WriteError (503 or 429, Retry-After from the rejection's hint,
//     rounded up to whole seconds, at least 1).
//  5. A panic in the handler is recovered: logged with its stack, and
//     answered with a 500 problem+json (flag PANIC) if the handler had not
//     yet started its response. If it had, the middleware panics with
//     http.ErrAbortHandler so that net/http aborts the connection and the
//     client sees a broken response, not a short one that looks complete.
//     A panic with http.ErrAbortHandler itself is passed on untouched.
//  6. The access log line is written and the end function called, with the
//     status, the bytes written and the flag: the middleware's own (from
//     the steps above, or set by WriteError inside the handler), else DC if
//     the request's context was canceled (the client went away) or DT if its
//     deadline had passed by the end.
type Middleware struct {
	name        string
	admit       keel.Handler
	maxDeadline time.Duration
	logger      *slog.Logger
	traceID     func(context.Context) string
	start       func(*http.Request) (context.Context, func(RequestInfo))
}

// NewMiddleware returns a Middleware configured by cfg, or the error of
// cfg.Validate.
func NewMiddleware(cfg MiddlewareConfig) (*Middleware, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Middleware{
		name:        cfg.Name,
		maxDeadline: cfg.MaxDeadline,
		logger:      cfg.Logger,
		traceID:     cfg.TraceID,
		start:       cfg.Start,
	}
	if m.maxDeadline == 0 {
		m.maxDeadline = DefaultMaxDeadline
	}
	if cfg.Admission != nil {
		m.admit = cfg.Admission.Wrap(runOp)
	}
	return m, nil
}

// MustNewMiddleware is like [NewMiddleware] but panics if cfg is invalid.
func MustNewMiddleware(cfg MiddlewareConfig) *Middleware {
	m, err := NewMiddleware(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// Handler wraps next with a Middleware configured by cfg. It returns the
// error of cfg.Validate.
func Handler(next http.Handler, cfg MiddlewareConfig) (http.Handler, error) {
	m, err := NewMiddleware(cfg)
	if err != nil {
		return nil, err
	}
	return m.Wrap(next), nil
}

// Wrap returns next guarded by the middleware.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, next)
	})
}

// serve handles one request; see Middleware.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	begin := time.Now()
	rw := &recorder{ResponseWriter: w}
	ctx := r.Context()
	var end func(RequestInfo)
	if m.start != nil {
		var c context.Context
		c, end = m.start(r)
		if c != nil {
			ctx = c
		}
	}
	var (
		dctx *deadline.Context
		err  error
	)
	if v := r.Header.Get(DeadlineHeader); v != "" && m.maxDeadline > 0 {
		if ms, ok := parseMillis(v); ok {
			if ms == 0 {
				err = ErrNoTimeLeft
			} else {
				d := m.maxDeadline
				if ms < int64(d/time.Millisecond) {
					d = time.Duration(ms) * time.Millisecond
				}
				dctx = deadline.New(ctx, begin.Add(d))
				ctx = dctx
			}
		}
	}
	ctx = withCriticality(ctx, r)
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	defer func() {
		v := recover()
		abort := false
		if v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // net/http compares the value itself
				err, abort = http.ErrAbortHandler, true
			} else {
				abort = rw.wrote // too late for a 500: break the response instead
				err = ErrPanic
				m.panicked(ctx, r, rw, v)
			}
		}
		m.finish(ctx, r, rw, begin, err, end)
		if dctx != nil {
			dctx.Cancel()
		}
		if abort {
			panic(http.ErrAbortHandler)
		}
	}()
	if err == nil {
		err = m.run(ctx, rw, r, next)
	}
	if err != nil && !rw.wrote {
		WriteError(rw, r, err)
	}
}

// run runs next, under the admission policy if there is one, and returns the
// policy's error if the handler did not run.
func (m *Middleware) run(ctx context.Context, w *recorder, r *http.Request, next http.Handler) error {
	if m.admit == nil {
		next.ServeHTTP(w, r)
		return nil
	}
	err := m.admit(ctx, func(ctx context.Context) error {
		w.ran = true
		req := r
		if ctx != req.Context() {
			req = req.WithContext(ctx)
			// ServeMux sets the pattern on the request it serves: this copy.
			defer func() { w.pattern = req.Pattern }()
		}
		next.ServeHTTP(w, req)
		return nil
	})
	if w.ran {
		return nil
	}
	if err == nil { // a policy that neither ran the handler nor said why
		err = keel.ErrRejected
	}
	return err
}

// panicked handles a recovered panic value v.
func (m *Middleware) panicked(ctx context.Context, r *http.Request, rw *recorder, v any) {
	if m.logger != nil {
		m.logger.LogAttrs(ctx, slog.LevelError, "http handler panic",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Any("panic", v),
			slog.String("stack", string(debug.Stack())))
	}
	if !rw.wrote {
		WriteError(rw, r, ErrPanic)
	}
	rw.flag = FlagPanic
}

// finish writes the access log line and calls the end function.
func (m *Middleware) finish(ctx context.Context, r *http.Request, rw *recorder, begin time.Time, err error, end func(RequestInfo)) {
	if m.logger == nil && end == nil {
		return
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	flag := rw.flag
	if flag == FlagNone {
		switch cerr := r.Context().Err(); {
		case errors.Is(cerr, context.Canceled):
			flag = FlagDownstreamDisconnect
		case errors.Is(cerr, context.DeadlineExceeded):
			flag = FlagDeadline
		}
	}
	d := time.Since(begin)
	if m.logger != nil {
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if m.logger.Enabled(ctx, level) {
			logFlag := flag
			if logFlag == FlagNone {
				logFlag = "-"
			}
			attrs := [9]slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rw.bytes),
				slog.Duration("duration", d),
				slog.String("flag", logFlag),
			}
			n := 6
			if m.name != "" {
				attrs[n] = slog.String("server", m.name)
				n++
			}
			if m.traceID != nil {
				if id := m.traceID(ctx); id != "" {
					attrs[n] = slog.String("trace_id", id)
					n++
				}
			}
			m.logger.LogAttrs(ctx, level, "http request", attrs[:n]...)
		}
	}
	if end != nil {
		pattern := r.Pattern
		if pattern == "" {
			pattern = rw.pattern
		}
		end(RequestInfo{Method: r.Method, Path: r.URL.Path, Pattern: pattern, Status: status, Bytes: rw.bytes, Duration: d, Flag: flag, Err: err})
	}
}

// parseMillis parses a DeadlineHeader value: one or more ASCII digits,
// surrounded by optional spaces and tabs. Values too large for an int64 are
// capped.
func parseMillis(v string) (int64, bool) {
	i, j := 0, len(v)
	for i < j && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	for j > i && (v[j-1] == ' ' || v[j-1] == '\t') {
		j--
	}
	if i == j {
		return 0, false
	}
	const maxInt64 = 1<<63 - 1
	var n int64
	for ; i < j; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if d := int64(c - '0'); n > (maxInt64-d)/10 {
			n = maxInt64 // saturated; keep checking the digits
		} else {
			n = n*10 + d
		}
	}
	return n, true
}

// recorder is the ResponseWriter the middleware hands to handlers: it
// remembers the status, counts bytes and holds the response flag.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	wrote   bool // the response has started (headers sent)
	ran     bool // the admission policy ran the handler
	flag    string
	pattern string // the ServeMux pattern of a request copy made for admission
}

// WriteHeader records the status and passes it on.
func (w *recorder) WriteHeader(code int) {
	if !w.wrote {
		w.status = code
		if code >= 200 || code == http.StatusSwitchingProtocols {
			w.wrote = true
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write counts the bytes written.
func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush flushes the underlying writer, if it can.
func (w *recorder) Flush() {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SetFlag sets the response flag that the Middleware under w logs and
// reports in RequestInfo.Flag, replacing any earlier one. A handler calls it
// to say why it answered as it did (a gateway serving a fallback: FlagFallback).
// It does nothing when no Middleware is under w (w and the writers it
// unwraps to, through Unwrap() http.ResponseWriter).
func SetFlag(w http.ResponseWriter, flag string) {
	for {
		switch x := w.(type) {
		case *recorder:
			x.flag = flag
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}
