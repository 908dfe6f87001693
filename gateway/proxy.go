package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// hopHeaders are the hop-by-hop headers of RFC 9110 §7.6.1, and the old ones
// proxies still see; they describe one connection and are never forwarded.
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopHeaders deletes the hop-by-hop headers from h, including those
// that the Connection header names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
}

// upgradeType returns the protocol a request or response asks to upgrade
// to ("websocket"), or "" when it does not.
func upgradeType(h http.Header) string {
	if !headerHasToken(h, "Connection", "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// headerHasToken reports whether the comma-separated header name holds
// token, case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// forwarding decides the X-Forwarded-* and Forwarded headers of outgoing
// requests.
type forwarding struct {
	trusted []netip.Prefix // peers whose forwarding headers are kept
}

// clientIP returns the address of r's peer, without the port.
func clientIP(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// trust reports whether the forwarding headers sent by a peer at ip are
// believed.
func (f *forwarding) trust(ip netip.Addr) bool {
	for _, p := range f.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// apply sets the forwarding headers on out, the outgoing copy of in. From an
// untrusted peer, the incoming X-Forwarded-* and Forwarded headers are
// dropped so that a client cannot forge its address; from a trusted proxy
// they are kept and the peer is appended.
func (f *forwarding) apply(out http.Header, in *http.Request) {
	ip, ok := clientIP(in)
	trusted := ok && f.trust(ip)
	if !trusted {
		delete(out, "X-Forwarded-For")
		delete(out, "X-Forwarded-Host")
		delete(out, "X-Forwarded-Proto")
		delete(out, "Forwarded")
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	_, hasHost := out["X-Forwarded-Host"]
	_, hasProto := out["X-Forwarded-Proto"]
	var prior string
	if p := out["Forwarded"]; len(p) > 0 {
		prior = strings.Join(p, ", ")
	}
	// The client's address and the Forwarded element share one string, and
	// the header values one backing array: two allocations.
	var sb strings.Builder
	sb.Grow(len(prior) + 2*len(in.Host) + 96)
	var ipLen int
	if ok {
		var a [48]byte
		ipLen = len(ip.AppendTo(a[:0]))
		_, _ = sb.Write(a[:ipLen])
	}
	appendForwardedElement(&sb, prior, ok, ip, in.Host, proto)
	all := sb.String()
	ipText, fwd := all[:ipLen], all[ipLen:]
	vals := make([]string, 4)
	if ok {
		if prior := out["X-Forwarded-For"]; len(prior) > 0 {
			vals[0] = strings.Join(prior, ", ") + ", " + ipText
		} else {
			vals[0] = ipText
		}
		out["X-Forwarded-For"] = vals[0:1:1]
	}
	if !hasHost {
		vals[1] = in.Host
		out["X-Forwarded-Host"] = vals[1:2:2]
	}
	if !hasProto {
		vals[2] = proto
		out["X-Forwarded-Proto"] = vals[2:3:3]
	}
	vals[3] = fwd
	out["Forwarded"] = vals[3:4:4]
}

// appendForwardedElement writes prior (a list, possibly empty) and one RFC
// 7239 Forwarded element for a client at ip ("unknown" when !known).
func appendForwardedElement(sb *strings.Builder, prior string, known bool, ip netip.Addr, host, proto string) {
	if prior != "" {
		sb.WriteString(prior)
		sb.WriteString(", ")
	}
	sb.WriteString("for=")
	var a [48]byte
	switch {
	case !known:
		sb.WriteString("unknown")
	case ip.Is6():
		sb.WriteString(`"[`)
		_, _ = sb.Write(ip.AppendTo(a[:0]))
		sb.WriteString(`]"`)
	default:
		_, _ = sb.Write(ip.AppendTo(a[:0]))
	}
	if host != "" {
		sb.WriteString(";host=")
		_, _ = sb.Write(appendForwardedValue(a[:0], host))
	}
	sb.WriteString(";proto=")
	sb.WriteString(proto)
}

// appendForwardedValue appends v as an RFC 7239 value: as it is when it is
// a token, else quoted with '"' and '\' escaped.
func appendForwardedValue(b []byte, v string) []byte {
	token := true
	for i := 0; i < len(v) && token; i++ {
		c := v[i]
		token = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
	}
	if token {
		return append(b, v...)
	}
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, v[i])
	}
	return append(b, '"')
}

// outgoing turns in, the request the gateway received, into the request it
// sends upstream. It takes over in's header map (the gateway owns it and
// nothing reads it afterwards), so it allocates only the request copy.
// path, when not "", replaces the URL path (prefix stripping).
func outgoing(ctx context.Context, in *http.Request, fwd *forwarding, path string) *http.Request {
	out := in.WithContext(ctx)
	u := *in.URL
	u.Scheme, u.Host = "http", in.Host // the upstream pool sets the real ones
	if path != "" {
		u.Path, u.RawPath = path, ""
	}
	out.URL = &u
	out.RequestURI = ""
	out.Close = false
	if in.ContentLength == 0 {
		out.Body = nil // a GET without a body must not look like one with
	}
	h := in.Header
	up := upgradeType(h)
	// "TE: trailers" is the one TE value that says the client, and so the
	// chain, understands trailers (gRPC needs it); it survives the hop.
	te := headerHasToken(h, "Te", "trailers")
	removeHopHeaders(h)
	if up != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{up}
	}
	if te {
		h["Te"] = []string{"trailers"}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent // do not let net/http add its own
	}
	fwd.apply(h, in)
	return out
}

// noUserAgent is the value of an absent User-Agent: none is sent. Shared:
// nothing appends to a header value slice in place.
var noUserAgent = []string{""}

// bufPool holds the buffers response bodies are copied through.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyResponse writes resp to w: headers without hop-by-hop ones, the
// status, the body (flushed as it arrives for streams of unknown length and
// server-sent events) and trailers. It returns the copy's error, if any.
func copyResponse(w http.ResponseWriter, resp *http.Response) error {
	h := w.Header()
	removeHopHeaders(resp.Header)
	for k, vv := range resp.Header {
		h[k] = vv
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		names := make([]string, 0, announced)
		for k := range resp.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(resp.StatusCode)

	stream := resp.ContentLength == -1 || isEventStream(resp.Header)
	err := copyBody(w, resp.Body, stream)
	if len(resp.Trailer) > 0 {
		if announced == 0 {
			// Trailers the upstream did not announce: send them the way
			// net/http allows, with the TrailerPrefix.
			for k, vv := range resp.Trailer {
				h[http.TrailerPrefix+k] = vv
			}
		} else {
			for k, vv := range resp.Trailer {
				h[k] = vv
			}
		}
	}
	return err
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return strings.HasPrefix(ct, "text/event-stream")
}

// errClientGone marks a copy that failed because the client went away.
var errClientGone = errors.New("gateway: client went away")

// copyBody copies body to w through a pooled buffer, flushing after each
// write when stream is set.
func copyBody(w http.ResponseWriter, body io.Reader, stream bool) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var rc *http.ResponseController
	if stream {
		rc = http.NewResponseController(w)
	}
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errors.Join(errClientGone, werr)
			}
			if rc != nil {
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					return errors.Join(errClientGone, err)
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// switchProtocols completes an Upgrade (WebSocket and the like): it sends
// the 101 response to the client, takes over the client's connection and
// copies bytes both ways until either side closes or ctx ends.
func switchProtocols(ctx context.Context, w http.ResponseWriter, resp *http.Response) error {
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		_ = resp.Body.Close()
		return errors.New("gateway: upgrade response body is not writable")
	}
	defer func() { _ = backend.Close() }()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	// The 101 and its headers go out on the raw connection.
	up := resp.Header.Get("Upgrade")
	removeHopHeaders(resp.Header)
	resp.Header["Connection"] = []string{"Upgrade"}
	if up != "" {
		resp.Header["Upgrade"] = []string{up}
	}
	res := &http.Response{StatusCode: http.StatusSwitchingProtocols, ProtoMajor: 1, ProtoMinor: 1, Header: resp.Header}
	if err := res.Write(brw); err != nil {
		return err
	}
	if err := brw.Flush(); err != nil {
		return err
	}
	// Bytes the client sent after its request, already buffered.
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ := brw.Peek(n)
		if _, err := backend.Write(pending); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Unix(1, 0))
		_ = backend.Close()
	})
	defer stop()
	errc := make(chan error, 2)
	go func() {
		_, err := io.Copy(conn, backend)
		errc <- err
		closeWrite(conn)
	}()
	go func() { _, err := io.Copy(backend, conn); errc <- err }()
	err = <-errc
	// One side is done: end the other so its goroutine returns.
	_ = conn.Close()
	_ = backend.Close()
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

// closeWrite half-closes a TCP connection, telling the peer no more bytes
// come.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
