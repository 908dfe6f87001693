package gateway

import (
	"net/http"
	"strings"

	"github.com/keelhq/keel/gateway/config"
)

// matcher decides whether a request belongs to a route. It is built once
// per configuration and never changes.
type matcher struct {
	host       string // exact host, lower case, without port; "" = any
	hostSuffix string // for "*.example.com": ".example.com"
	path       string // exact path; "" = none
	prefix     string // path prefix; "" = none
	methods    []string
	headers    []headerMatch
}

type headerMatch struct {
	name    string // canonical
	value   string
	present bool // "*": the header must only be present
}

func newMatcher(m config.Match) matcher {
	var mt matcher
	h := strings.ToLower(m.Host)
	if rest, ok := strings.CutPrefix(h, "*"); ok {
		mt.hostSuffix = rest
	} else {
		mt.host = h
	}
	mt.path = m.Path
	mt.prefix = m.PathPrefix
	if mt.path == "" && mt.prefix == "" {
		mt.prefix = "/"
	}
	for _, meth := range m.Methods {
		mt.methods = append(mt.methods, strings.ToUpper(meth))
	}
	for name, v := range m.Headers {
		mt.headers = append(mt.headers, headerMatch{name: http.CanonicalHeaderKey(name), value: v, present: v == "*"})
	}
	return mt
}

// match reports whether r matches. host is r's host without port, in lower
// case (computed once per request by the router).
func (m *matcher) match(r *http.Request, host string) bool {
	switch {
	case m.host != "" && m.host != host:
		return false
	case m.hostSuffix != "" && !strings.HasSuffix(host, m.hostSuffix):
		return false
	case m.path != "" && r.URL.Path != m.path:
		return false
	case m.prefix != "" && !hasPathPrefix(r.URL.Path, m.prefix):
		return false
	}
	if len(m.methods) > 0 {
		ok := false
		for _, meth := range m.methods {
			if meth == r.Method {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, hm := range m.headers {
		vv := r.Header[hm.name]
		if len(vv) == 0 {
			return false
		}
		if !hm.present && vv[0] != hm.value {
			return false
		}
	}
	return true
}

// hasPathPrefix reports whether path starts with prefix at a segment
// boundary: "/api" matches "/api" and "/api/x" but not "/apix". A prefix
// ending in "/" matches anything under it.
func hasPathPrefix(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// requestHost returns r's host without port, in lower case.
func requestHost(r *http.Request) string {
	h := r.Host
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// stripPrefix removes prefix from path, keeping a leading "/".
func stripPrefix(path, prefix string) string {
	if prefix == "" {
		return ""
	}
	p := strings.TrimPrefix(path, strings.TrimSuffix(prefix, "/"))
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return p
}
