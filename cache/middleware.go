package cache

import (
	"net/http"
	"strconv"
	"time"
)

// Middleware returns a handler with the semantics of [Cache.Transport] for
// next: cacheable requests are answered from fresh entries (with
// Config.ServeFresh), and a response of next with one of
// Config.StaleStatuses is replaced by a stale entry when there is one. Since a
// handler returns no error, only statuses count as failures.
//
// A 200 response to a GET is stored when next returns normally and its body
// fit in Config.MaxBodyBytes. The decision to replace a response is taken at
// its WriteHeader, before anything is sent, so the client never sees a part
// of the failed response. A panic in next passes through; nothing is stored.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := c.key(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if c.serveFresh && !hasDirective(r.Header, "no-cache") {
			now := c.now()
			if e := c.lookup(key, now, c.ttl); e != nil {
				c.served(r.Context(), e, now, false, nil)
				c.write(w, r, e, now, false)
				return
			}
		}
		c.misses.Add(1)
		rw := &recorder{w: w, c: c, r: r, key: key}
		next.ServeHTTP(rw, r)
		rw.finish()
	})
}

// write sends e as the response to r.
func (c *Cache) write(w http.ResponseWriter, r *http.Request, e *entry, now time.Time, stale bool) {
	h := w.Header()
	clear(h)
	for k, v := range c.responseHeader(e, now, stale) {
		h[k] = v
	}
	h["Content-Length"] = []string{strconv.Itoa(len(e.body))}
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.body)
	}
}

// recorder passes a response through to w, copying a storable body, or
// swallows a failed response that a stale entry will replace.
type recorder struct {
	w   http.ResponseWriter
	c   *Cache
	r   *http.Request
	key string

	wroteHeader bool
	status      int
	header      http.Header // clone at WriteHeader, when storing
	storing     bool
	buf         []byte
	stale       *entry // the entry that replaces the response
	staleAt     time.Time
	cause       error
}

func (rw *recorder) Header() http.Header { return rw.w.Header() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.w }

func (rw *recorder) WriteHeader(code int) {
	if rw.wroteHeader {
		return
	}
	if code >= 100 && code < 200 {
		rw.w.WriteHeader(code) // informational: more headers follow
		return
	}
	rw.wroteHeader, rw.status = true, code
	c := rw.c
	if c.isStaleStatus(code) && mayServeStale(rw.r.Context()) {
		now := c.now()
		if e := c.lookup(rw.key, now, c.ttl+c.maxStale); e != nil {
			rw.stale, rw.staleAt, rw.cause = e, now, &StatusError{StatusCode: code}
			return
		}
	}
	h := rw.w.Header()
	if rw.r.Method == http.MethodGet && c.storable(code, h) {
		cl := int64(-1)
		if v := h.Get("Content-Length"); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				cl = n
			}
		}
		if cl <= c.maxBody {
			rw.storing, rw.header = true, h.Clone()
			if cl > 0 {
				rw.buf = make([]byte, 0, cl)
			}
		}
	}
	rw.w.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.stale != nil {
		return len(p), nil
	}
	if rw.storing {
		if int64(len(rw.buf)+len(p)) > rw.c.maxBody {
			rw.storing, rw.buf = false, nil
		} else {
			rw.buf = append(rw.buf, p...)
		}
	}
	return rw.w.Write(p)
}

// Flush sends what was written so far, unless the response is being replaced.
func (rw *recorder) Flush() {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.stale != nil {
		return
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// finish runs after next returned normally: it sends the stale replacement
// or stores the response.
func (rw *recorder) finish() {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	c := rw.c
	if rw.stale != nil {
		c.served(rw.r.Context(), rw.stale, rw.staleAt, true, rw.cause)
		c.write(rw.w, rw.r, rw.stale, rw.staleAt, true)
		return
	}
	if rw.storing {
		body := rw.buf
		if body == nil {
			body = []byte{}
		}
		c.store(c.newEntry(rw.key, rw.status, "HTTP/1.1", 1, 1, rw.header, body, c.now()))
	}
}
