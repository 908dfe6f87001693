package chaos

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Transport is an http.RoundTripper that injects an Injector's faults into
// the requests it sends. Create one with [Injector.Transport]. It is safe for
// concurrent use.
type Transport struct {
	in   *Injector
	base http.RoundTripper
}

// Transport returns a Transport that injects in's faults into requests
// before they reach base (http.DefaultTransport if nil). Faults apply as in
// Middleware, except that:
//
//   - an error fault returns a synthesized response with Status and Body (or,
//     if Fault.Err is set, an [*InjectedError] wrapping it) without sending
//     the request;
//   - an abort returns an *InjectedError matching syscall.ECONNRESET, as if
//     the server had reset the connection before answering;
//   - a timeout waits for the request's context to end (returning an
//     *InjectedError wrapping its error) or for MaxHang (returning an
//     *InjectedError whose Timeout method reports true);
//   - a bandwidth fault throttles the response body as the caller reads it.
func (in *Injector) Transport(base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{in: in, base: base}
}

// RoundTrip sends req through the Injector's faults to the base transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var p plan
	ctx := req.Context()
	if !t.in.decide(ctx, req.URL.Host, req.URL.Path, req.Header, scopeHTTP, &p) || !t.in.start(ctx, &p) {
		return t.base.RoundTrip(req)
	}
	ended := false
	defer func() {
		if !ended {
			t.in.end()
		}
	}()
	if err := sleep(ctx, p.delay); err != nil {
		closeBody(req)
		return nil, err
	}
	switch p.term {
	case KindError:
		closeBody(req)
		if p.err != nil {
			return nil, &InjectedError{Fault: p.termID, Kind: KindError, Err: p.err}
		}
		return errorResponse(req, p.status, p.body), nil
	case KindAbort:
		closeBody(req)
		return nil, &InjectedError{Fault: p.termID, Kind: KindAbort, Err: errReset}
	case KindTimeout:
		closeBody(req)
		return nil, hangError(ctx, &p)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || p.rate == 0 {
		return resp, err
	}
	ended = true // the throttled body ends the fault when it is closed
	resp.Body = &throttledBody{rc: resp.Body, ctx: ctx, t: throttle{rate: p.rate}, end: t.in.end}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func errorResponse(req *http.Request, status int, body string) *http.Response {
	if body == "" {
		body = strconv.Itoa(status) + " " + http.StatusText(status) + "\n"
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// throttledBody passes a response body through at a limited rate.
type throttledBody struct {
	rc   io.ReadCloser
	ctx  context.Context
	t    throttle
	once sync.Once
	end  func()
}

func (b *throttledBody) Read(p []byte) (int, error) {
	p = p[:min(len(p), b.t.chunk())]
	n, err := b.rc.Read(p)
	if n > 0 {
		if werr := b.t.wait(b.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (b *throttledBody) Close() error {
	b.once.Do(b.end)
	return b.rc.Close()
}
