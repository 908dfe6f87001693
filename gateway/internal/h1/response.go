package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// response is the http.ResponseWriter of one request.
//
// WriteHeader writes the status line and the handler's header into the
// connection's header buffer at once, as net/http snapshots the header
// then; the framing lines (Content-Length or chunked, Connection, Date and
// a sniffed Content-Type) are added when the header is committed: at the
// first write past a small buffer, at a Flush, or when the handler returns,
// which lets a short body get a Content-Length.
type response struct {
	c    *sconn
	req  *http.Request
	hdr  http.Header
	body *serverBody // nil for a request without a body

	status      int
	wroteHeader bool
	committed   bool
	chunked     bool
	noBody      bool  // HEAD, 1xx, 204, 304
	cl          int64 // the declared Content-Length; -1 is none
	written     int64
	closeAfter  bool
	hasDate     bool
	hasType     bool
	encoded     bool   // the handler set Content-Encoding: no sniffing
	connTokens  string // the handler's Connection options other than close and keep-alive
	trailers    bool   // the handler announced trailers
	bodyBusy    bool   // a goroutine of the handler's was reading the body at the end
	fullDuplex  bool
	handlerDone bool
	err         error // a write failed: the connection is done
	hijacked    atomic.Bool

	wmu          sync.Mutex // committing, and 100 Continue from a body reader
	sentContinue bool
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
)

func (w *response) Header() http.Header { return w.hdr }

func (w *response) WriteHeader(code int) {
	if w.hijacked.Load() {
		w.c.s.logf("h1: response.WriteHeader on hijacked connection")
		return
	}
	if w.wroteHeader {
		w.c.s.logf("h1: superfluous response.WriteHeader call (status %d)", code)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	w.noBody = w.req.Method == http.MethodHead || !bodyAllowed(code)
	if v := w.hdr["Content-Length"]; len(v) > 0 {
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err == nil && n >= 0 && len(v) == 1 {
			w.cl = n
		} else {
			w.c.s.logf("h1: invalid Content-Length of %q", v)
			delete(w.hdr, "Content-Length")
		}
	}
	if te := w.hdr["Transfer-Encoding"]; len(te) > 0 {
		w.chunked = te[0] == "chunked"
		w.cl = -1
	}
	if conn := w.hdr["Connection"]; len(conn) > 0 {
		w.closeAfter = httpguts.HeaderValuesContainsToken(conn, "close")
		w.connTokens = otherTokens(conn)
	}
	w.encoded = len(w.hdr["Content-Encoding"]) > 0
	_, w.trailers = w.hdr["Trailer"]

	// The status line and the handler's header, as they are now.
	c := w.c
	c.hbuf = appendStatusLine(c.hbuf[:0], w.req.ProtoAtLeast(1, 1), code)
	c.hbuf, w.hasDate, w.hasType = appendHeaderLines(c.hbuf, w.hdr, &c.keys, code)
}

// bodyAllowed reports whether a response with this status may have a body.
func bodyAllowed(code int) bool {
	return (code < 100 || code > 199) && code != http.StatusNoContent && code != http.StatusNotModified
}

func (w *response) writeInformational(code int) {
	if !w.req.ProtoAtLeast(1, 1) || w.committed {
		return
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	c := w.c
	b := appendStatusLine(c.hbuf[:0], true, code)
	b, _, _ = appendHeaderLines(b, w.hdr, &c.keys, code)
	b = append(b, "\r\n"...)
	c.hbuf = b
	if _, err := c.bw.Write(b); err == nil {
		w.fail(c.bw.Flush())
	} else {
		w.fail(err)
	}
	if code == http.StatusContinue {
		w.sentContinue = true
	}
}

// writeContinue sends "100 Continue" the first time a handler reads a body
// whose client asked for it, unless the response has begun.
func (w *response) writeContinue() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.committed || w.sentContinue || w.hijacked.Load() {
		return
	}
	w.sentContinue = true
	// An error stays in the writer, and the handler's next write or
	// flush meets it on its own goroutine.
	_, _ = w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = w.c.bw.Flush()
}

func (w *response) fail(err error) {
	if err != nil && w.err == nil {
		w.err = err
		w.closeAfter = true
	}
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked.Load() {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.err != nil {
		return 0, w.err
	}
	c := w.c
	if !w.committed {
		if w.cl < 0 && !w.chunked && len(c.pend)+len(p) <= cap(c.pend) {
			c.pend = append(c.pend, p...)
			return len(p), nil
		}
		w.commit(p)
		if w.err != nil {
			return 0, w.err
		}
	}
	if w.noBody {
		return len(p), nil // HEAD: the body is not sent
	}
	var err error
	if w.chunked {
		err = writeChunk(c.bw, p)
	} else {
		_, err = c.bw.Write(p)
		if err == nil && w.written == w.cl {
			// The declared body is complete: send it now rather than
			// when the handler returns, so that what the handler does
			// after its last write (metrics, logs, the breaker's
			// bookkeeping) is not in the client's wait.
			err = c.bw.Flush()
		}
	}
	if err != nil {
		w.fail(err)
		return 0, err
	}
	return len(p), nil
}

func writeChunk(bw *bufio.Writer, p []byte) error {
	var hex [16]byte
	_, _ = bw.Write(strconv.AppendInt(hex[:0], int64(len(p)), 16))
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(p)
	_, err := bw.WriteString("\r\n")
	return err
}

// commit completes the header with its framing and writes it, followed by
// the held-back body. first is the body's first bytes when none were held
// back, for sniffing a Content-Type.
func (w *response) commit(first []byte) {
	if w.committed {
		return
	}
	if w.body != nil && !w.fullDuplex {
		// net/http's rule: a handler that answers has read what it wants
		// of the body; the rest is read away (up to a bound) to keep the
		// connection, or the connection closes.
		w.discardBody()
	}
	// From here on no "100 Continue" may go out.
	w.wmu.Lock()
	w.committed = true
	w.wmu.Unlock()
	c := w.c
	b := c.hbuf
	if !w.hasDate {
		b = append(b, c.s.dates.line()...)
	}
	if len(c.pend) > 0 {
		first = c.pend
	}
	if !w.hasType && !w.encoded && !w.noBody && len(first) > 0 && !w.chunked {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(first)...)
		b = append(b, "\r\n"...)
	}
	switch {
	case w.status == http.StatusNotModified || !bodyAllowed(w.status):
		// no framing
	case w.cl >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.cl, 10)
		b = append(b, "\r\n"...)
	case w.handlerDone && !w.chunked && !w.trailers && !hasTrailerPrefix(w.hdr) && (w.req.Method != http.MethodHead || len(c.pend) > 0):
		w.cl = int64(len(c.pend))
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.cl, 10)
		b = append(b, "\r\n"...)
	case w.req.Method == http.MethodHead:
		// no length known, none sent
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	default:
		w.chunked = false
		w.closeAfter = true // HTTP/1.0: the body ends with the connection
	}
	keepAlive10 := !w.req.ProtoAtLeast(1, 1) && !w.req.Close
	switch {
	case w.closeAfter || w.req.Close || c.s.closing.Load() || (keepAlive10 && w.cl < 0 && !w.noBody):
		w.closeAfter = true
		b = append(b, "Connection: close\r\n"...)
	case keepAlive10:
		b = append(b, "Connection: keep-alive\r\n"...)
	case w.connTokens != "":
		b = append(b, "Connection: "...)
		b = append(b, w.connTokens...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	c.hbuf = b
	if _, err := c.bw.Write(b); err != nil {
		w.fail(err)
		return
	}
	if len(c.pend) > 0 {
		pend := c.pend
		c.pend = c.pend[:0]
		if w.noBody {
			return
		}
		var err error
		if w.chunked {
			err = writeChunk(c.bw, pend)
		} else {
			_, err = c.bw.Write(pend)
		}
		w.fail(err)
	}
}

// FlushError sends what was written so far (http.ResponseController uses
// it).
func (w *response) FlushError() error {
	if w.hijacked.Load() {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.commit(nil)
	if w.err != nil {
		return w.err
	}
	err := w.c.bw.Flush()
	w.fail(err)
	return err
}

func (w *response) Flush() { _ = w.FlushError() }

// SetReadDeadline and SetWriteDeadline serve http.ResponseController. A
// deadline set this way replaces the server's for this request, and ends
// with it.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.readBy.Store(0)
	w.c.handlerDeadline = true
	return w.c.rwc.SetReadDeadline(t)
}

func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.writeBy.Store(0)
	w.c.handlerDeadline = true
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler read the request body after it began
// the response.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

var errLateHijack = errors.New("h1: Hijack after the handler returned")

func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.wmu.Lock()
	done := w.handlerDone
	w.wmu.Unlock()
	if done {
		return nil, nil, errLateHijack
	}
	if w.hijacked.Load() {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader {
		if err := w.FlushError(); err != nil {
			return nil, nil, err
		}
	}
	w.wmu.Lock()
	if w.handlerDone {
		w.wmu.Unlock()
		return nil, nil, errLateHijack
	}
	w.hijacked.Store(true)
	w.wmu.Unlock()
	return w.c.hijack()
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(nil)
	}
	c := w.c
	if w.chunked && w.err == nil && !w.noBody {
		c.hbuf = append(c.hbuf[:0], "0\r\n"...)
		c.hbuf = appendTrailers(c.hbuf, w.hdr, w.trailers)
		c.hbuf = append(c.hbuf, "\r\n"...)
		_, err := c.bw.Write(c.hbuf)
		w.fail(err)
	}
	if w.cl >= 0 && !w.noBody && w.written != w.cl {
		w.closeAfter = true // too short: the client would wait for the rest
	}
	if w.err == nil {
		w.fail(c.bw.Flush())
	}
	if w.body != nil {
		w.discardBody()
	}
}

// discardBody reads away what the handler left of the request body, unless
// the connection closes anyway, and decides whether it may be reused.
func (w *response) discardBody() {
	closing := w.closeAfter || w.req.Close || w.c.s.closing.Load()
	reuse, busy := w.body.discard(closing)
	if busy {
		w.bodyBusy = true
	}
	if !reuse {
		w.closeAfter = true
	}
}

// appendStatusLine appends "HTTP/1.x code text\r\n".
func appendStatusLine(b []byte, is11 bool, code int) []byte {
	if is11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// serverFramed are the header fields the server writes itself.
func serverFramed(k string) bool {
	switch k {
	case "Content-Length", "Transfer-Encoding", "Connection":
		return true
	}
	return strings.HasPrefix(k, http.TrailerPrefix)
}

// appendHeaderLines appends h's fields in sorted order, as net/http writes
// them: invalid names are dropped, line breaks in values become spaces. It
// leaves out the framing fields and, for a 304, the ones RFC 9110 says it
// must not carry. It reports whether Date and Content-Type were among them.
func appendHeaderLines(b []byte, h http.Header, scratch *[]string, code int) (_ []byte, hasDate, hasType bool) {
	keys := (*scratch)[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	*scratch = keys
	for _, k := range keys {
		if serverFramed(k) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		switch k {
		case "Date":
			hasDate = true
		case "Content-Type":
			if code == http.StatusNotModified {
				continue
			}
			hasType = true
		}
		for _, v := range h[k] {
			b = appendField(b, k, v)
		}
	}
	clear(keys)
	return b, hasDate, hasType
}

// appendField appends the header line "k: v", v made safe by appendValue.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = appendValue(b, v)
	return append(b, "\r\n"...)
}

// appendValue appends a header value with line breaks made spaces and the
// ends trimmed, as net/http's Header.Write does.
func appendValue(b []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	if strings.ContainsAny(v, "\r\n") {
		for i := 0; i < len(v); i++ {
			if v[i] == '\r' || v[i] == '\n' {
				b = append(b, ' ')
			} else {
				b = append(b, v[i])
			}
		}
		return b
	}
	return append(b, v...)
}

// appendTrailers appends the trailer fields: the announced names' values,
// then the fields set with http.TrailerPrefix.
func appendTrailers(b []byte, h http.Header, announced bool) []byte {
	if announced {
		for _, list := range h["Trailer"] {
			for name := range strings.SplitSeq(list, ",") {
				k := http.CanonicalHeaderKey(strings.TrimSpace(name))
				if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidTrailerHeader(k) {
					continue
				}
				for _, v := range h[k] {
					b = appendField(b, k, v)
				}
			}
		}
	}
	for k, vv := range h {
		name, ok := strings.CutPrefix(k, http.TrailerPrefix)
		if !ok || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidTrailerHeader(name) {
			continue
		}
		for _, v := range vv {
			b = appendField(b, name, v)
		}
	}
	return b
}

func hasTrailerPrefix(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// otherTokens returns the Connection options in vv other than close and
// keep-alive, comma-separated.
func otherTokens(vv []string) string {
	var out []string
	for _, v := range vv {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t != "" && httpguts.ValidHeaderFieldName(t) && !strings.EqualFold(t, "close") && !strings.EqualFold(t, "keep-alive") {
				out = append(out, t)
			}
		}
	}
	return strings.Join(out, ", ")
}

// serverBody is a request body as the handler sees it. It sends "100
// Continue" on the first read when the client asked for it, tells the
// connection when the body ended, and once closed (by the handler, or by
// the server when the handler returns or begins its response) gives
// nothing more: what is left is read away or the connection closes.
type serverBody struct {
	mu           sync.Mutex // held by a read, which may wait for the client
	rc           io.ReadCloser
	c            *sconn
	w            *response
	remain       int64 // bytes of a Content-Length body not read yet; -1 unknown
	wantContinue bool
	sawEOF       bool
	failed       bool // a read failed: the connection's framing is lost
	closed       atomic.Bool
}

func (b *serverBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF {
		return 0, io.EOF
	}
	if b.wantContinue {
		b.wantContinue = false
		if b.w != nil {
			b.w.writeContinue()
		}
	}
	n, err := b.rc.Read(p)
	if b.remain > 0 {
		b.remain -= int64(n)
	}
	switch {
	case errors.Is(err, io.EOF):
		b.sawEOF = true
		b.c.bodyDone()
	case err != nil:
		b.failed = true
	}
	return n, err
}

// Close ends the handler's reading; it does not wait for a read in
// progress.
func (b *serverBody) Close() error {
	b.closed.Store(true)
	return nil
}

// discard closes the body and reads away what is left of it, up to
// maxDrain, unless closing (the connection ends anyway), or what is left is
// known to be larger, or a read is in progress on another goroutine (busy).
// It reports whether the connection can carry another request.
func (b *serverBody) discard(closing bool) (reuse, busy bool) {
	b.closed.Store(true)
	if !b.mu.TryLock() {
		return false, true
	}
	defer b.mu.Unlock()
	switch {
	case b.sawEOF:
		return true, false
	case closing || b.failed || b.wantContinue || b.remain > maxDrain:
		// The client may still wait for 100 Continue before it sends
		// the body, or the rest is too long to read for nothing.
		return false, false
	}
	n, err := io.CopyN(io.Discard, b.rc, maxDrain+1)
	if errors.Is(err, io.EOF) && n <= maxDrain {
		b.sawEOF = true
		b.c.readBy.Store(0)
		return true, false
	}
	b.failed = true
	return false, false
}
