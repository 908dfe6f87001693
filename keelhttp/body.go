package keelhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/keelhq/keel/internal/deadline"
)

// ownedBody is a response body whose attempt and request contexts the
// Transport created: they end when the caller closes the body, not before,
// since reading the body needs them.
type ownedBody struct {
	rc      io.ReadCloser
	attempt *deadline.Context
	total   *deadline.Context
	cancel  context.CancelFunc // a hedged attempt's send context, or nil
}

func (b *ownedBody) Read(p []byte) (int, error) { return b.rc.Read(p) }

func (b *ownedBody) Close() error {
	err := b.rc.Close()
	if b.attempt != nil {
		b.attempt.Cancel()
	}
	if b.cancel != nil {
		b.cancel()
	}
	if b.total != nil {
		b.total.Cancel()
	}
	return err
}

// own makes resp's body end the attempt's context when it is closed.
func own(resp *http.Response, attempt *deadline.Context) *http.Response {
	if attempt == nil {
		return resp
	}
	if !wrappable(resp) {
		// A 101 Switching Protocols body is also an io.Writer, which a
		// wrapper would hide; the context then ends at its deadline.
		return resp
	}
	resp.Body = &ownedBody{rc: resp.Body, attempt: attempt}
	return resp
}

// attachTotal makes resp's body end the request's context when it is closed.
func attachTotal(resp *http.Response, total *deadline.Context) {
	if b, ok := resp.Body.(*ownedBody); ok {
		b.total = total
		return
	}
	if b, ok := resp.Body.(*prefixBody); ok {
		b.total = total
		return
	}
	if !wrappable(resp) {
		if resp.Body == nil || resp.Body == http.NoBody {
			total.Cancel()
		}
		return
	}
	resp.Body = &ownedBody{rc: resp.Body, total: total}
}

func wrappable(resp *http.Response) bool {
	if resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	_, rw := resp.Body.(io.Writer)
	return !rw
}

// readAhead reads a failed response's body, up to DrainLimit bytes, so that
// its connection can be reused while the retry policy waits, and replaces
// the body with what it read followed by the unread rest. If the whole body
// was read, the original is closed and the attempt's context ended at once.
func (t *Transport) readAhead(resp *http.Response, attempt *deadline.Context) {
	if resp.Body == nil || resp.Body == http.NoBody {
		if attempt != nil {
			attempt.Cancel()
		}
		return
	}
	limit := max(t.drainLimit, 0)
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(data)) <= limit {
		_ = resp.Body.Close()
		if attempt != nil {
			attempt.Cancel()
		}
		resp.Body = &prefixBody{prefix: data}
		return
	}
	resp.Body = &prefixBody{prefix: data, rest: resp.Body, err: err, attempt: attempt}
}

// prefixBody reads prefix, then rest (if any), then returns err (if any).
// Closing it closes rest and ends the contexts the body depends on.
type prefixBody struct {
	prefix  []byte
	rest    io.ReadCloser
	err     error
	attempt *deadline.Context
	total   *deadline.Context
	cancel  context.CancelFunc // a hedged attempt's send context, or nil
}

func (b *prefixBody) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.rest == nil {
		return 0, io.EOF
	}
	return b.rest.Read(p)
}

func (b *prefixBody) Close() error {
	b.prefix = nil
	var err error
	if b.rest != nil {
		err = b.rest.Close()
	}
	if b.attempt != nil {
		b.attempt.Cancel()
	}
	if b.cancel != nil {
		b.cancel()
	}
	if b.total != nil {
		b.total.Cancel()
	}
	return err
}

func newBytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
