package cache

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Transport returns a RoundTripper that answers cacheable requests from the
// cache as described in the package documentation and sends the others to
// base unchanged. A nil base means http.DefaultTransport.
//
// A response is stored once the caller has read its body to the end; a body
// closed early, or longer than Config.MaxBodyBytes, is not stored.
func (c *Cache) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base}
}

type transport struct {
	c    *Cache
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	key, ok := c.key(req)
	if !ok {
		return t.base.RoundTrip(req)
	}
	if c.serveFresh && !hasDirective(req.Header, "no-cache") {
		now := c.now()
		if e := c.lookup(key, now, c.ttl); e != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			c.served(req.Context(), e, now, false, nil)
			return c.response(req, e, now, false), nil
		}
	}
	c.misses.Add(1)
	resp, err := t.base.RoundTrip(req)
	var cause error
	switch {
	case err != nil:
		cause = err
	case c.isStaleStatus(resp.StatusCode):
		cause = &StatusError{StatusCode: resp.StatusCode}
	default:
		if req.Method == http.MethodGet || req.Method == "" {
			c.wrapBody(key, resp)
		}
		return resp, nil
	}
	ctx := req.Context()
	if !mayServeStale(ctx) {
		return resp, err
	}
	now := c.now()
	e := c.lookup(key, now, c.ttl+c.maxStale)
	if e == nil {
		return resp, err
	}
	if resp != nil {
		_ = resp.Body.Close()
	}
	c.served(ctx, e, now, true, cause)
	return c.response(req, e, now, true), nil
}

// response builds a response for req from e. It owns a clone of the header
// and a reader over the shared, immutable body.
func (c *Cache) response(req *http.Request, e *entry, now time.Time, stale bool) *http.Response {
	resp := &http.Response{
		Status:        statusLine(e.status),
		StatusCode:    e.status,
		Proto:         e.proto,
		ProtoMajor:    e.major,
		ProtoMinor:    e.minor,
		Header:        c.responseHeader(e, now, stale),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
	} else {
		br := &bodyReader{}
		br.Reset(e.body)
		resp.Body = br
	}
	return resp
}

// bodyReader is a served body: a reader over the entry's shared bytes.
type bodyReader struct{ bytes.Reader }

// Close does nothing; the body holds no resource.
func (*bodyReader) Close() error { return nil }

func statusLine(code int) string {
	if code == http.StatusOK {
		return "200 OK"
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// wrapBody arranges for resp to be stored under key once its body is read to
// the end, if it may be stored at all.
func (c *Cache) wrapBody(key string, resp *http.Response) {
	if !c.storable(resp.StatusCode, resp.Header) || resp.ContentLength > c.maxBody || resp.Body == nil {
		return
	}
	tb := &teeBody{rc: resp.Body, c: c, key: key, status: resp.StatusCode,
		proto: resp.Proto, major: resp.ProtoMajor, minor: resp.ProtoMinor,
		header: resp.Header.Clone()}
	if resp.ContentLength > 0 {
		tb.buf = make([]byte, 0, resp.ContentLength)
	}
	resp.Body = tb
}

// teeBody copies what the caller reads into buf and stores the response at
// io.EOF, unless the body outgrew MaxBodyBytes or was closed before its end.
type teeBody struct {
	rc           io.ReadCloser
	c            *Cache
	key          string
	status       int
	proto        string
	major, minor int
	header       http.Header
	buf          []byte
	over, done   bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if !b.done && !b.over && n > 0 {
		if int64(len(b.buf)+n) > b.c.maxBody {
			b.over, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
	}
	if err == io.EOF && !b.done {
		b.done = true
		if !b.over {
			c := b.c
			body := b.buf
			if body == nil {
				body = []byte{}
			}
			c.store(c.newEntry(b.key, b.status, b.proto, b.major, b.minor, b.header, body, c.now()))
		}
		b.buf = nil
	}
	return n, err
}

func (b *teeBody) Close() error {
	b.done, b.buf = true, nil
	return b.rc.Close()
}
