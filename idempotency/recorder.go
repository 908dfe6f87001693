package idempotency

import (
	"bytes"
	"net/http"
)

// recorder buffers a handler's response so that it can be stored before the
// client sees it: a client that has a response can rely on its replay. A
// response over the limit, or one the handler flushes, spills: it is written
// through to the client from then on and is not stored.
type recorder struct {
	w           http.ResponseWriter
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
	max         int64
	spilled     bool
}

func (rw *recorder) reset(w http.ResponseWriter, limit int64) {
	rw.w = w
	clear(rw.header)
	rw.status = 0
	rw.wroteHeader = false
	rw.body.Reset()
	rw.max = limit
	rw.spilled = false
}

// Header returns the header map of the response.
func (rw *recorder) Header() http.Header {
	if rw.spilled {
		return rw.w.Header()
	}
	return rw.header
}

// WriteHeader records the status. Informational (1xx) statuses are dropped.
func (rw *recorder) WriteHeader(code int) {
	if rw.wroteHeader || (code >= 100 && code < 200) {
		return
	}
	rw.status = code
	rw.wroteHeader = true
}

// Write buffers b, or writes it through once the response spilled.
func (rw *recorder) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.spilled {
		return rw.w.Write(b)
	}
	if int64(rw.body.Len())+int64(len(b)) > rw.max {
		rw.spill()
		return rw.w.Write(b)
	}
	return rw.body.Write(b)
}

// Flush spills the response and flushes it: a streamed response is not
// stored.
func (rw *recorder) Flush() {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	rw.spill()
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (rw *recorder) spill() {
	if rw.spilled {
		return
	}
	rw.spilled = true
	dst := rw.w.Header()
	for k, v := range rw.header {
		dst[k] = v
	}
	rw.w.WriteHeader(rw.status)
	if rw.body.Len() > 0 {
		_, _ = rw.w.Write(rw.body.Bytes())
	}
	rw.body.Reset()
}
