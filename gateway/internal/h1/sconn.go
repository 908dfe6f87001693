package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// A server connection's states. Shutdown closes the idle ones; a hijacked
// one belongs to its handler.
const (
	stateActive int32 = iota
	stateIdle
	stateHijacked
	stateClosed
)

// maxDrain is how much of a request body the server reads after its
// handler left it, to keep the connection for the next request (net/http's
// figure).
const maxDrain = 256 << 10

// aLongTimeAgo is a deadline that has passed: it ends blocked reads or
// writes at once.
var aLongTimeAgo = time.Unix(1, 0)

var (
	errTooLarge = errors.New("h1: request header too large")
	// ErrClientClosed is the cause of a request's context when its client
	// closed the connection while the handler ran.
	ErrClientClosed = errors.New("h1: the client closed the connection")
)

// statusError is a request the server refuses with code.
type statusError struct {
	code int
	text string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.code, http.StatusText(e.code), e.text)
}

var (
	bufReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	bufWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// sconn is one client connection. Its goroutine reads a request, runs the
// handler and writes the response, then waits for the next request.
type sconn struct {
	s          *Server
	rwc        net.Conn
	remoteAddr string
	ctx        context.Context // the connection's; ends when it closes
	cancel     context.CancelFunc
	r          connReader
	br         *bufio.Reader
	bw         *bufio.Writer
	rio        rawIO    // rwc's reads and writes
	hbuf       []byte   // the response header being built
	pend       []byte   // a body held back to learn its length
	keys       []string // scratch for sorting header names
	lastBody   bool     // the last request had a body
	reqStart   int64    // the server's clock at the request's first byte

	state                     atomic.Int32
	readBy, writeBy           atomic.Int64 // deadlines on the server's clock; 0 is none
	readExpired, writeExpired atomic.Bool
	watchFrom                 atomic.Int64 // when the handler became watchable; 0 is not
	gone                      atomic.Bool  // the watch saw the client leave
	handlerDeadline           bool         // the handler set a deadline of its own
	noPool                    bool         // a handler's goroutine may still use the buffers

	mu        sync.Mutex // the watch's start and end
	watching  bool
	watchDone chan struct{}
	reqCancel context.CancelCauseFunc // the current request's
}

func newSconn(s *Server, c net.Conn) *sconn {
	sc := &sconn{s: s, rwc: c, remoteAddr: c.RemoteAddr().String()}
	sc.ctx, sc.cancel = context.WithCancel(context.WithValue(context.Background(), http.LocalAddrContextKey, c.LocalAddr()))
	sc.r = connReader{c: sc, limit: -1}
	sc.br = bufReaders.Get().(*bufio.Reader)
	sc.br.Reset(&sc.r)
	sc.bw = bufWriters.Get().(*bufio.Writer)
	sc.bw.Reset(&sc.rio)
	sc.hbuf = make([]byte, 0, 512)
	sc.pend = make([]byte, 0, 2<<10)
	sc.rio.bind(c)
	return sc
}

// connReader is the connection as the request reader sees it: a bound on
// the header's bytes, and the byte the watch may have read.
type connReader struct {
	c        *sconn
	limit    int64 // bytes the header may still read; -1 is no bound
	hitLimit bool
	hasByte  bool
	b        byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.limit >= 0 {
		if r.limit == 0 {
			r.hitLimit = true
			return 0, io.EOF
		}
		if int64(len(p)) > r.limit {
			p = p[:r.limit]
		}
	}
	var n int
	var err error
	if r.hasByte {
		p[0], r.hasByte, n = r.b, false, 1
	} else {
		n, err = r.c.rio.Read(p)
	}
	if r.limit >= 0 {
		r.limit -= int64(n)
	}
	return n, err
}

// serve runs the connection's requests until it closes or is hijacked.
func (c *sconn) serve() {
	defer c.close()
	for c.awaitRequest() {
		req, err := c.readRequest()
		if err != nil {
			c.reject(err)
			return
		}
		if !c.handle(req) {
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request. It reports
// false when the connection should close: Shutdown took it while idle, the
// client closed it, or it stayed idle for too long.
func (c *sconn) awaitRequest() bool {
	if !c.state.CompareAndSwap(stateActive, stateIdle) || c.s.closing.Load() {
		return false
	}
	if d := c.s.idleTimeout(); d > 0 {
		c.readBy.Store(c.s.now() + int64(d))
	}
	// The header's bound counts from here: the wait's read may bring the
	// whole header in.
	c.r.limit, c.r.hitLimit = c.s.maxHeader()+4096, false
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			return false
		}
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return false // Shutdown closed it meanwhile
	}
	c.reqStart = c.s.now()
	if d := c.s.headerTimeout(); d > 0 {
		c.readBy.Store(c.reqStart + int64(d))
	} else {
		c.readBy.Store(0)
	}
	return true
}

// readRequest reads and checks a request header, as net/http's server does.
func (c *sconn) readRequest() (*http.Request, error) {
	if c.lastBody {
		// RFC 9112 section 2.2: ignore an empty line before the request
		// line, which old clients send after a body.
		for c.br.Buffered() > 0 {
			b, _ := c.br.Peek(1)
			if b[0] != '\r' && b[0] != '\n' {
				break
			}
			_, _ = c.br.Discard(1)
		}
	}
	req, err := http.ReadRequest(c.br)
	hit := c.r.hitLimit
	c.r.limit = -1
	if err != nil {
		if hit {
			return nil, errTooLarge
		}
		return nil, err
	}
	if req.ProtoMajor != 1 {
		return nil, &statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	if req.Host == "" && req.ProtoAtLeast(1, 1) && req.Method != http.MethodConnect {
		return nil, &statusError{http.StatusBadRequest, "missing required Host header"}
	}
	if req.Host != "" && !httpguts.ValidHostHeader(req.Host) {
		return nil, &statusError{http.StatusBadRequest, "malformed Host header"}
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, &statusError{http.StatusBadRequest, "invalid header name"}
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, &statusError{http.StatusBadRequest, "invalid header value"}
			}
		}
	}
	wantContinue := false
	if ex, ok := req.Header["Expect"]; ok {
		if len(ex) != 1 || !strings.EqualFold(strings.TrimSpace(ex[0]), "100-continue") {
			return nil, &statusError{http.StatusExpectationFailed, "unsupported Expect header"}
		}
		// The header stays, as with net/http: a proxy passes it on.
		wantContinue = req.ProtoAtLeast(1, 1) && req.ContentLength != 0
	}
	req.RemoteAddr = c.remoteAddr
	ctx, cancel := context.WithCancelCause(c.ctx)
	*req = *req.WithContext(ctx)
	c.mu.Lock()
	c.reqCancel = cancel
	c.mu.Unlock()

	now := c.s.now()
	if d := c.s.WriteTimeout; d > 0 {
		c.writeBy.Store(now + int64(d))
	}
	c.lastBody = req.Body != http.NoBody
	if c.lastBody {
		req.Body = &serverBody{rc: req.Body, c: c, wantContinue: wantContinue, remain: req.ContentLength}
		if d := c.s.ReadTimeout; d > 0 {
			c.readBy.Store(c.reqStart + int64(d))
		} else {
			c.readBy.Store(0)
		}
	} else {
		c.readBy.Store(0)
		c.watchFrom.Store(now)
	}
	return req, nil
}

// reject answers a request the server could not read, as net/http does,
// and lets the client read the answer before the connection closes.
func (c *sconn) reject(err error) {
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) {
		return // the client left or timed out: nobody to answer
	}
	const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	var msg string
	var se *statusError
	switch {
	case errors.Is(err, errTooLarge):
		msg = "HTTP/1.1 431 Request Header Fields Too Large" + errorHeaders + "431 Request Header Fields Too Large"
	case errors.As(err, &se):
		line := fmt.Sprintf("%d %s: %s", se.code, http.StatusText(se.code), se.text)
		msg = "HTTP/1.1 " + line + errorHeaders + line
	case strings.HasPrefix(err.Error(), "unsupported transfer encoding"):
		msg = "HTTP/1.1 501 Not Implemented" + errorHeaders + "Unsupported transfer encoding"
	default:
		msg = "HTTP/1.1 400 Bad Request" + errorHeaders + "400 Bad Request"
	}
	c.writeBy.Store(c.s.now() + int64(5*time.Second))
	c.bw.Reset(&c.rio)
	_, _ = c.bw.WriteString(msg)
	if c.bw.Flush() == nil {
		c.lingerClose()
	}
}

// lingerClose half-closes the connection and reads what the client still
// sends, for a moment, so that closing with unread bytes does not reset the
// connection before the client has read the answer.
func (c *sconn) lingerClose() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.rwc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.CopyN(io.Discard, c.rwc, maxDrain)
}

// handle runs the handler on req and finishes its response. It reports
// whether the connection may carry another request.
func (c *sconn) handle(req *http.Request) bool {
	w := &response{c: c, req: req, hdr: make(http.Header), cl: -1}
	if sb, ok := req.Body.(*serverBody); ok {
		w.body = sb
		sb.w = w
	}
	ok := c.run(w, req)
	w.wmu.Lock()
	w.handlerDone = true
	hijacked := w.hijacked.Load()
	w.wmu.Unlock()
	c.mu.Lock()
	cancel := c.reqCancel
	c.reqCancel = nil
	c.mu.Unlock()
	cancel(nil)
	c.endWatch()
	if hijacked {
		return false
	}
	if w.body != nil {
		// Later reads fail; this does not wait for a goroutine of the
		// handler's that may still be inside a read.
		_ = w.body.Close()
	}
	if !ok {
		// The handler panicked. A goroutine of its own may still read
		// the body: the buffers are not reused.
		c.noPool = w.body != nil
		return false
	}
	if c.handlerDeadline {
		// Deadlines the handler set (http.ResponseController) were
		// for its request only.
		c.handlerDeadline = false
		if !c.readExpired.Load() {
			_ = c.rwc.SetReadDeadline(time.Time{})
		}
		if !c.writeExpired.Load() {
			_ = c.rwc.SetWriteDeadline(time.Time{})
		}
	}
	w.finish()
	c.writeBy.Store(0)
	if w.bodyBusy {
		c.noPool = true
	}
	if w.closeAfter || c.gone.Load() || c.writeExpired.Load() {
		return false
	}
	if c.readExpired.Load() {
		// ReadTimeout passed while the handler ran, but the body is read
		// (the response keeps the connection): the next request has its
		// own deadlines.
		c.s.mu.Lock()
		c.readBy.Store(0)
		c.readExpired.Store(false)
		err := c.rwc.SetReadDeadline(time.Time{})
		c.s.mu.Unlock()
		return err == nil
	}
	return true
}

// run calls the handler; a panic closes the connection, as with net/http.
func (c *sconn) run(w *response, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler { //nolint:errorlint // net/http compares the same way
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logf("h1: panic serving %s: %v\n%s", c.remoteAddr, p, buf)
			}
		}
	}()
	c.s.handler().ServeHTTP(w, req)
	return true
}

// check enforces the connection's deadlines and starts the watch of a long
// handler. The sweep calls it.
func (c *sconn) check(now, watchAfter int64) {
	if by := c.readBy.Load(); by != 0 && now > by && !c.readExpired.Swap(true) {
		_ = c.rwc.SetReadDeadline(aLongTimeAgo)
	}
	if by := c.writeBy.Load(); by != 0 && now > by && !c.writeExpired.Swap(true) {
		_ = c.rwc.SetWriteDeadline(aLongTimeAgo)
	}
	if from := c.watchFrom.Load(); from != 0 && now-from >= watchAfter {
		c.startWatch(from)
	}
}

// bodyDone is called when the request body reached its end: reading is
// over, and the client may be watched.
func (c *sconn) bodyDone() {
	c.readBy.Store(0)
	c.watchFrom.Store(c.s.now())
}

func (c *sconn) startWatch(from int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watching || c.watchFrom.Load() != from || c.reqCancel == nil {
		return
	}
	c.watching = true
	c.watchDone = make(chan struct{})
	go c.watch(c.watchDone, c.reqCancel)
}

// watch reads one byte while the handler runs: the end of the connection
// means the client left, and cancels the request; a byte is the start of a
// pipelined request, kept for the reader.
func (c *sconn) watch(done chan struct{}, cancel context.CancelCauseFunc) {
	defer close(done)
	var b [1]byte
	n, err := c.rwc.Read(b[:])
	if n == 1 {
		c.r.hasByte, c.r.b = true, b[0]
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return // endWatch stopped it, or a deadline the handler set passed
	}
	c.gone.Store(true)
	cancel(ErrClientClosed)
}

// endWatch stops the watch, if one runs, before the connection is read
// again.
func (c *sconn) endWatch() {
	c.mu.Lock()
	c.watchFrom.Store(0)
	watching, done := c.watching, c.watchDone
	c.watching, c.watchDone = false, nil
	c.mu.Unlock()
	if !watching {
		return
	}
	_ = c.rwc.SetReadDeadline(aLongTimeAgo)
	<-done
	if !c.readExpired.Load() {
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
}

// shut closes the connection from outside its goroutine (Server.Close),
// and ends its request's context.
func (c *sconn) shut() {
	for {
		st := c.state.Load()
		if st == stateHijacked {
			return
		}
		if c.state.CompareAndSwap(st, stateClosed) {
			break
		}
	}
	_ = c.rwc.Close()
	c.cancel()
}

func (c *sconn) close() {
	c.s.untrack(c)
	c.cancel()
	if c.state.Load() == stateHijacked {
		return // its buffers are the hijacker's now
	}
	c.state.Store(stateClosed)
	_ = c.rwc.Close()
	if c.noPool {
		return
	}
	c.br.Reset(nil)
	bufReaders.Put(c.br)
	c.bw.Reset(nil)
	bufWriters.Put(c.bw)
	c.br, c.bw = nil, nil
}

// bufferWatchByte moves the byte the watch read into the read buffer,
// behind what the buffer holds; when that is full, into a larger buffer.
func (c *sconn) bufferWatchByte() error {
	n := c.br.Buffered()
	if n < c.br.Size() {
		_, err := c.br.Peek(n + 1)
		return err
	}
	held, _ := c.br.Peek(n)
	pending := append(bytes.Clone(held), c.r.b)
	c.r.hasByte = false
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pending), &c.r), len(pending)+4<<10)
	if _, err := br.Peek(len(pending)); err != nil {
		return err
	}
	c.br = br
	c.noPool = true // the pooled reader is let go with the connection
	return nil
}

// hijack hands the connection to the handler.
func (c *sconn) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c.endWatch()
	if c.r.hasByte {
		// The watch's byte goes into the buffer, where the hijacker
		// looks for what the client already sent.
		if err := c.bufferWatchByte(); err != nil {
			return nil, nil, err
		}
	}
	if !c.state.CompareAndSwap(stateActive, stateHijacked) {
		return nil, nil, net.ErrClosed // Server.Close took it
	}
	c.s.untrack(c)
	c.readBy.Store(0)
	c.writeBy.Store(0)
	_ = c.rwc.SetDeadline(time.Time{})
	return c.rwc, bufio.NewReadWriter(c.br, c.bw), nil
}
