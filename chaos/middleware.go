package chaos

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Middleware returns an http.Handler that injects faults into requests
// before they reach next. Faults apply in the order they were added: every
// latency fault that fires adds its delay; then the first error, abort or
// timeout fault that fired ends the request; otherwise the request reaches
// next, its response body throttled to the lowest rate of the bandwidth
// faults that fired.
//
//   - error: the response is Status with Body (the status text if empty);
//   - abort: the client's connection is hijacked and closed with SO_LINGER 0,
//     so the client reads a TCP reset; over HTTP/2, where a connection cannot
//     be hijacked, the handler panics with http.ErrAbortHandler, which
//     resets the stream;
//   - timeout: nothing is sent until the client gives up, or MaxHang passes
//     and the response is 504 Gateway Timeout.
//
// With header-driven faults enabled, HeaderDelay, HeaderAbortStatus and
// HeaderThroughput add a latency, an error and a bandwidth fault.
func (in *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p plan
		if !in.decide(r.Context(), r.Host, r.URL.Path, r.Header, scopeHTTP, &p) || !in.start(r.Context(), &p) {
			next.ServeHTTP(w, r)
			return
		}
		defer in.end()
		in.serve(w, r, next, &p)
	})
}

func (in *Injector) serve(w http.ResponseWriter, r *http.Request, next http.Handler, p *plan) {
	ctx := r.Context()
	if sleep(ctx, p.delay) != nil {
		return // the client is gone
	}
	switch p.term {
	case KindError:
		writeError(w, p.status, p.body)
		return
	case KindAbort:
		abort(w)
		return
	case KindTimeout:
		if hang(ctx, p.maxHang) == nil {
			writeError(w, http.StatusGatewayTimeout, "chaos: injected timeout\n")
		}
		return
	}
	if p.rate > 0 {
		tw := &throttledWriter{ResponseWriter: w, ctx: ctx, t: throttle{rate: p.rate}}
		next.ServeHTTP(tw, r)
		return
	}
	next.ServeHTTP(w, r)
}

func writeError(w http.ResponseWriter, status int, body string) {
	if body == "" {
		body = strconv.Itoa(status) + " " + http.StatusText(status) + "\n"
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body)) // the client may be gone; nothing to do
}

// abort resets the client's connection.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	resetConn(conn)
}

// resetConn closes conn with SO_LINGER 0 when it is (or wraps, as a TLS
// connection does) a TCP connection, so that the peer reads a reset instead
// of an end of stream.
func resetConn(conn net.Conn) {
	raw := conn
	if w, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = w.NetConn()
	}
	if tc, ok := raw.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0) // best effort: a plain close still ends the request
	}
	_ = raw.Close()
}

// throttle paces writes to rate bytes per second.
type throttle struct {
	rate int64
	next time.Time // when the bytes sent so far are due
}

// chunk is how many bytes to send at once: a tenth of a second's worth,
// between 1 byte and 32 KiB.
func (t *throttle) chunk() int { return int(min(max(t.rate/10, 1), 32<<10)) }

// wait sleeps until n more bytes are due. A writer that fell behind (a
// slow reader, a busy machine) catches up by up to a second's worth of bytes,
// so the average rate holds; after a longer pause the schedule restarts.
func (t *throttle) wait(ctx context.Context, n int) error {
	now := time.Now()
	if now.Sub(t.next) > time.Second {
		t.next = now
	}
	t.next = t.next.Add(time.Duration(int64(n) * int64(time.Second) / t.rate))
	return sleep(ctx, time.Until(t.next))
}

// throttledWriter passes a response body through at a limited rate, flushing
// each chunk so that the client sees the rate.
type throttledWriter struct {
	http.ResponseWriter
	ctx context.Context
	t   throttle
}

func (w *throttledWriter) Write(b []byte) (int, error) {
	n := 0
	rc := http.NewResponseController(w.ResponseWriter)
	for len(b) > 0 {
		c := min(len(b), w.t.chunk())
		if err := w.t.wait(w.ctx, c); err != nil {
			return n, err
		}
		m, err := w.ResponseWriter.Write(b[:c])
		n += m
		if err != nil {
			return n, err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return n, err
		}
		b = b[c:]
	}
	return n, nil
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *throttledWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the wrapped ResponseWriter if it can.
func (w *throttledWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hijacks the wrapped ResponseWriter's connection if it can; the
// hijacked connection is not throttled.
func (w *throttledWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
