package gateway

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/keelhq/keel/gateway/config"
	"github.com/keelhq/keel/keelhttp"
)

// FallbackHeader marks a response that the gateway served from a route's
// static fallback instead of the upstream.
const FallbackHeader = "Keel-Fallback"

// fallback is a route's static response, served when the upstream fails.
type fallback struct {
	status   int
	header   http.Header // complete, cloned for each response
	body     []byte
	onError  bool       // no response at all: connection, timeout, open breaker, no host, rejection
	statuses [10]uint64 // bit set of the statuses that trigger it
}

func newFallback(c *config.Fallback) *fallback {
	f := &fallback{status: c.Status, body: []byte(c.Body), header: http.Header{}}
	if f.status == 0 {
		f.status = http.StatusOK
	}
	ct := c.ContentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
		if b := bytes.TrimSpace(f.body); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
			ct = "application/json"
		}
	}
	f.header.Set("Content-Type", ct)
	for k, v := range c.Headers {
		f.header.Set(k, v)
	}
	f.header.Set(FallbackHeader, "true")
	f.header.Set("Content-Length", strconv.Itoa(len(f.body)))
	on := c.On
	if len(on) == 0 {
		on = []string{"error", "5xx"}
	}
	for _, o := range on {
		switch strings.ToLower(o) {
		case "error":
			f.onError = true
		case "5xx":
			for s := 500; s < 600; s++ {
				f.set(s)
			}
		case "4xx":
			for s := 400; s < 500; s++ {
				f.set(s)
			}
		default:
			if s, err := strconv.Atoi(o); err == nil {
				f.set(s)
			}
		}
	}
	return f
}

func (f *fallback) set(status int) {
	if status >= 0 && status < 640 {
		f.statuses[status/64] |= 1 << (status % 64)
	}
}

// onStatus reports whether an upstream response with this status is
// replaced by the fallback.
func (f *fallback) onStatus(status int) bool {
	return status >= 0 && status < 640 && f.statuses[status/64]&(1<<(status%64)) != 0
}

// write sends the fallback response, with flag as the response flag.
func (f *fallback) write(w http.ResponseWriter, flag string) {
	keelhttp.SetFlag(w, flag)
	h := w.Header()
	for k, vv := range f.header {
		h[k] = append([]string(nil), vv...)
	}
	w.WriteHeader(f.status)
	_, _ = w.Write(f.body)
}
