package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keelhq/keel/internal/deadline"
	"golang.org/x/net/http/httpguts"
)

// errStale marks a failure on a reused connection before any byte of an
// answer arrived: most likely the server had closed it while it sat idle.
var errStale = errors.New("h1: reused connection closed by the server")

type staleError struct{ err error }

func (e *staleError) Error() string {
	return "h1: reused connection failed before an answer: " + e.err.Error()
}

func (e *staleError) Unwrap() []error { return []error{errStale, e.err} }

// pconn is one keep-alive connection. It serves one request at a time: the
// goroutine that took it from the pool owns it until its response ends.
type pconn struct {
	hc     *hostConns
	c      net.Conn
	lr     limitedReader
	src    bodySource // the request body being written, while it is
	br     *bufio.Reader
	bw     *bufio.Writer   // the request body's, after the header
	wbuf   []byte          // the request header
	rio    rawIO           // c's reads and writes
	raw    syscall.RawConn // c's, when it has one
	send   rawSend         // sendAwait's state
	idleAt time.Time       // when it went back to the pool
	reused bool            // it carried a request before this one
	closed atomic.Bool

	// deadline is the connection's read and write deadline: the
	// request's context's, enforced by the poller rather than by a timer
	// of the context's own.
	deadline time.Time
	abortFn  func() // abort, bound once
}

func newPconn(hc *hostConns, c net.Conn) *pconn {
	pc := &pconn{hc: hc, c: c}
	pc.abortFn = pc.abort
	pc.rio.bind(c)
	pc.lr = limitedReader{r: &pc.rio, n: math.MaxInt64}
	pc.br = bufio.NewReaderSize(&pc.lr, 4<<10)
	pc.bw = bufio.NewWriterSize(&pc.rio, 4<<10)
	pc.wbuf = make([]byte, 0, 1<<10)
	pc.bindRaw()
	return pc
}

// limitedReader bounds what the response header may read from the
// connection; the body is read with no bound. eof records that the
// connection ended.
type limitedReader struct {
	r   io.Reader
	n   int64
	eof bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, ErrHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err == io.EOF {
		l.eof = true
	}
	return n, err
}

// bodySource reads a request body for its writer and keeps the body's
// failure apart from the connection's.
type bodySource struct {
	r   io.Reader
	err error
}

func (s *bodySource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// bodyError is a request body's own failure (its Read failed, or it ended
// before ContentLength): RoundTrip returns it, and the request is not sent
// again.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// close closes the connection and gives its slot back to the host, once.
func (pc *pconn) close() {
	if pc.closed.Swap(true) {
		return
	}
	_ = pc.c.Close()
	pc.hc.release()
}

// abort breaks the connection when the request's context ends; the owner
// sees its read or write fail, and then closes the connection for good.
func (pc *pconn) abort() { _ = pc.c.Close() }

// roundTrip sends req on the connection and reads the response header. It
// takes req.Body: it closes it, or its body writer does.
func (pc *pconn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// Cancellation closes the connection. With a lazy deadline.Context
	// (keelhttp's timeouts) the deadline is the poller's, as the
	// connection's own: no timer and no derived context per request.
	stop, own := deadline.AfterCancel(ctx, pc.abortFn)
	var dl time.Time
	if own {
		dl, _ = ctx.Deadline()
	}
	if err := pc.setDeadline(dl); err != nil {
		stop()
		pc.close()
		closeBody(req)
		return nil, err
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if cap(pc.wbuf) > maxRawHeader {
		pc.wbuf = make([]byte, 0, 1<<10) // do not keep a big buffer
	}
	pc.wbuf = appendHeader(pc.wbuf[:0], req, hasBody)
	var wdone chan error
	if hasBody {
		wdone = make(chan error, 1)
		go pc.writeBody(req, wdone)
	} else if err := pc.sendAwait(pc.wbuf); err != nil {
		pc.finish(stop, nil, false)
		return nil, pc.mapErr(ctx, err, nil, false)
	}

	resp, got, err := pc.readResponse(req)
	if err != nil {
		pc.finish(stop, nil, false) // a body writer still running fails on the closed connection
		return nil, pc.mapErr(ctx, err, wdone, got)
	}
	reuse := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		pc.finish(stop, wdone, reuse)
		return resp, nil
	}
	resp.Body = &body{pc: pc, rc: resp.Body, ctx: ctx, stop: stop, wdone: wdone, reuse: reuse}
	return resp, nil
}

// finish ends the connection's use by one request: back to the pool when
// the exchange was complete and nothing interfered, closed otherwise.
func (pc *pconn) finish(stop func() bool, wdone chan error, reuse bool) {
	if stop != nil && !stop() {
		reuse = false // the context ended: abort has closed, or is closing, the conn
	}
	if wdone != nil {
		select {
		case err := <-wdone:
			if err != nil {
				reuse = false
			}
		default:
			// The body writer has not reported: it is about to, or the
			// upstream answered before reading the whole body.
			reuse = reuse && waitWrite(wdone)
		}
	}
	if reuse && pc.br.Buffered() == 0 {
		pc.hc.put(pc)
		return
	}
	pc.close()
}

// waitWrite waits up to maxWriteWait for the body writer to report, and
// reports whether it wrote the whole request.
func waitWrite(wdone chan error) bool {
	t := time.NewTimer(maxWriteWait)
	defer t.Stop()
	select {
	case err := <-wdone:
		return err == nil
	case <-t.C:
		return false
	}
}

// mapErr turns a failure of the exchange into the error RoundTrip returns:
// the context's cause when it ended, the body writer's error when it
// failed first, a stale-connection error when a reused connection failed
// before any byte of an answer.
func (pc *pconn) mapErr(ctx context.Context, err error, wdone chan error, got bool) error {
	if cerr := ctxErr(ctx, err); cerr != nil {
		return cerr
	}
	if wdone != nil {
		select {
		case werr := <-wdone:
			// The body's own failure is the cause; a failed write on the
			// connection is one more symptom of what the read saw.
			var be *bodyError
			if errors.As(werr, &be) {
				return be.err
			}
		default:
		}
	}
	var ne net.Error
	if pc.reused && !got && !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, ErrHeaderTooLarge) {
		return &staleError{err: err}
	}
	if errors.Is(err, io.EOF) && !got {
		return fmt.Errorf("h1: %s closed the connection before answering: %w", pc.hc.addr, err)
	}
	return err
}

// alive reports whether the idle connection is still open (see alive). The
// last request's deadline, passed by now maybe, must not fail the peek.
func (pc *pconn) alive() bool {
	if pc.setDeadline(time.Time{}) != nil {
		return false
	}
	return alive(pc.c)
}

// setDeadline sets the connection's deadline to dl (zero: none) when it
// differs from the one set.
func (pc *pconn) setDeadline(dl time.Time) error {
	if dl.Equal(pc.deadline) {
		return nil
	}
	pc.deadline = dl
	return pc.c.SetDeadline(dl)
}

// ctxErr returns the error to report for err when the context ended: its
// cause, or context.DeadlineExceeded when the connection's deadline (the
// context's) fired a moment before the context noticed. nil when the
// context is live.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return nil
}

// readResponse reads the final response header, skipping up to max1xx
// informational ones. got reports whether any byte of an answer arrived.
func (pc *pconn) readResponse(req *http.Request) (resp *http.Response, got bool, err error) {
	pc.lr.n = pc.hc.t.maxHeader()
	pc.lr.eof = false
	defer func() { pc.lr.n = math.MaxInt64 }()
	if _, err := pc.br.Peek(1); err != nil {
		return nil, false, err
	}
	for n1xx := 0; ; n1xx++ {
		resp, err := http.ReadResponse(pc.br, req)
		if err != nil {
			if pc.lr.eof && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				// Cut in the middle of a line, the header reads as
				// malformed; the connection's end is the cause.
				err = fmt.Errorf("h1: connection closed in the response header: %w (%w)", io.ErrUnexpectedEOF, err)
			}
			return nil, true, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode < 100 {
			return resp, true, nil
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return nil, true, errors.New("h1: unexpected 101 Switching Protocols to a request without Upgrade")
		}
		if n1xx >= max1xx {
			return nil, true, fmt.Errorf("h1: more than %d informational responses", max1xx)
		}
		pc.lr.n = pc.hc.t.maxHeader()
	}
}

// appendHeader appends the request line and header fields to b. validate
// has checked every piece that goes on the wire.
func appendHeader(b []byte, req *http.Request, hasBody bool) []byte {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	b = append(b, method...)
	b = append(b, ' ')
	b = appendRequestURI(b, req)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, hostHeader(req)...)
	b = append(b, "\r\n"...)
	for k, vv := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range vv {
			v = textproto.TrimString(v)
			if v == "" && k == "User-Agent" {
				continue // an empty User-Agent means "send none", as in net/http
			}
			b = appendField(b, k, v)
		}
	}
	if req.Close && !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close") {
		b = append(b, "Connection: close\r\n"...)
	}
	switch {
	case hasBody && req.ContentLength < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case hasBody || (method != http.MethodGet && method != http.MethodHead):
		// Many servers want a length for a bodiless POST, PUT or DELETE.
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, max(req.ContentLength, 0), 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendRequestURI appends what url.URL.RequestURI returns, without
// building the string.
func appendRequestURI(b []byte, req *http.Request) []byte {
	u := req.URL
	if u.Opaque != "" {
		if strings.HasPrefix(u.Opaque, "//") {
			b = append(b, u.Scheme...)
			b = append(b, ':')
		}
		b = append(b, u.Opaque...)
	} else if p := u.EscapedPath(); p != "" {
		b = append(b, p...)
	} else {
		b = append(b, '/')
	}
	if u.ForceQuery || u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return b
}

func hostHeader(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// copyBufs holds the buffers of chunked request bodies.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeBody writes req's body after the buffered header, flushes, closes
// the body, and reports the outcome on done. On failure it then closes the
// connection: the upstream cannot get a complete request, and the reader
// must not wait for an answer to it.
func (pc *pconn) writeBody(req *http.Request, done chan<- error) {
	_, err := pc.bw.Write(pc.wbuf)
	src := &pc.src
	src.r, src.err = req.Body, nil
	switch {
	case err != nil:
	case req.ContentLength > 0:
		var n int64
		n, err = io.CopyN(pc.bw, src, req.ContentLength)
		if errors.Is(err, io.EOF) {
			err = &bodyError{fmt.Errorf("h1: request body ended after %d of its %d bytes: %w", n, req.ContentLength, io.ErrUnexpectedEOF)}
		}
	default:
		err = pc.writeChunked(src)
	}
	if src.err != nil {
		err = &bodyError{src.err}
	}
	src.r = nil
	if err == nil {
		err = pc.bw.Flush()
	}
	_ = req.Body.Close()
	done <- err
	if err != nil {
		_ = pc.c.Close()
	}
}

// writeChunked streams body in chunked encoding, flushing each piece as it
// comes so that a streamed upload is not held back.
func (pc *pconn) writeChunked(body io.Reader) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	cw := httputil.NewChunkedWriter(pc.bw)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := cw.Write(buf[:n]); err != nil {
				return err
			}
			if err := pc.bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if err := cw.Close(); err != nil { // the last chunk, "0\r\n"
		return err
	}
	_, err := pc.bw.WriteString("\r\n") // no trailers
	return err
}

// validate checks what writeHeader puts on the wire, as net/http's
// Transport does, so that a bad request fails before a connection is used.
func validate(req *http.Request) error {
	if m := req.Method; m != "" && !httpguts.ValidHeaderFieldName(m) { // a method is a token, as a field name is
		return fmt.Errorf("h1: invalid method %q", m)
	}
	if req.URL.Host == "" {
		return errors.New("h1: no Host in request URL")
	}
	if h := hostHeader(req); h == "" || !httpguts.ValidHostHeader(h) {
		return fmt.Errorf("h1: invalid Host %q", h)
	}
	u := req.URL
	if hasCTL(u.Opaque) || hasCTL(u.RawQuery) || hasCTL(u.RawPath) || (u.RawPath == "" && hasCTL(u.Path)) {
		return errors.New("h1: request URL contains a control character")
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("h1: invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("h1: invalid header field value for %q", k)
			}
		}
	}
	if req.ContentLength > 0 && (req.Body == nil || req.Body == http.NoBody) {
		return fmt.Errorf("h1: ContentLength %d with no body", req.ContentLength)
	}
	return nil
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b == 0x7f {
			return true
		}
	}
	return false
}

// body is a response body on a pooled connection: at EOF the connection
// goes back to the pool; closed early, the connection is closed.
type body struct {
	mu     sync.Mutex
	pc     *pconn
	rc     io.ReadCloser
	ctx    context.Context
	stop   func() bool
	wdone  chan error
	reuse  bool
	done   bool // the connection was released
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		b.done = true
		b.pc.finish(b.stop, b.wdone, b.reuse)
	case err != nil:
		b.done = true
		b.pc.finish(b.stop, b.wdone, false)
		if cerr := ctxErr(b.ctx, err); cerr != nil {
			err = cerr
		}
	}
	return n, err
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.done {
		b.done = true
		b.pc.finish(b.stop, b.wdone, false)
	}
	return nil
}
