package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/keelhq/keel/gateway/config"
)

func TestMatcher(t *testing.T) {
	tests := []struct {
		name   string
		match  config.Match
		method string
		url    string
		header http.Header
		want   bool
	}{
		{"default matches all", config.Match{}, "GET", "http://a/x/y", nil, true},
		{"prefix at segment", config.Match{PathPrefix: "/api"}, "GET", "http://a/api/v1", nil, true},
		{"prefix itself", config.Match{PathPrefix: "/api"}, "GET", "http://a/api", nil, true},
		{"prefix not mid-segment", config.Match{PathPrefix: "/api"}, "GET", "http://a/apix", nil, false},
		{"prefix with slash", config.Match{PathPrefix: "/api/"}, "GET", "http://a/api/x", nil, true},
		{"exact path", config.Match{Path: "/charges"}, "POST", "http://a/charges", nil, true},
		{"exact path differs", config.Match{Path: "/charges"}, "POST", "http://a/charges/1", nil, false},
		{"host exact", config.Match{Host: "api.example.com"}, "GET", "http://API.example.com:8080/", nil, true},
		{"host other", config.Match{Host: "api.example.com"}, "GET", "http://www.example.com/", nil, false},
		{"host wildcard", config.Match{Host: "*.example.com"}, "GET", "http://a.b.example.com/", nil, true},
		{"host wildcard not apex", config.Match{Host: "*.example.com"}, "GET", "http://example.com/", nil, false},
		{"method listed", config.Match{Methods: []string{"GET", "HEAD"}}, "HEAD", "http://a/", nil, true},
		{"method not listed", config.Match{Methods: []string{"GET"}}, "POST", "http://a/", nil, false},
		{"header value", config.Match{Headers: map[string]string{"x-tenant": "blue"}}, "GET", "http://a/", http.Header{"X-Tenant": {"blue"}}, true},
		{"header other value", config.Match{Headers: map[string]string{"x-tenant": "blue"}}, "GET", "http://a/", http.Header{"X-Tenant": {"red"}}, false},
		{"header present", config.Match{Headers: map[string]string{"X-Canary": "*"}}, "GET", "http://a/", http.Header{"X-Canary": {"1"}}, true},
		{"header absent", config.Match{Headers: map[string]string{"X-Canary": "*"}}, "GET", "http://a/", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMatcher(tc.match)
			r := httptest.NewRequest(tc.method, tc.url, nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			if got := m.match(r, requestHost(r)); got != tc.want {
				t.Errorf("match(%s %s) = %v, want %v", tc.method, tc.url, got, tc.want)
			}
		})
	}
}

func TestRequestHost(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "example.com",
		"Example.COM:8080": "example.com",
		"[::1]:8080":       "::1",
		"[::1]":            "::1",
		"127.0.0.1:80":     "127.0.0.1",
	} {
		r := &http.Request{Host: in}
		if got := requestHost(r); got != want {
			t.Errorf("requestHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStripPrefix(t *testing.T) {
	for _, tc := range []struct{ path, prefix, want string }{
		{"/api/v1/x", "/api", "/v1/x"},
		{"/api", "/api", "/"},
		{"/api/", "/api/", "/"},
		{"/api/x", "/api/", "/x"},
	} {
		if got := stripPrefix(tc.path, tc.prefix); got != tc.want {
			t.Errorf("stripPrefix(%q, %q) = %q, want %q", tc.path, tc.prefix, got, tc.want)
		}
	}
}

// FuzzMatcher checks that matching never panics and that a prefix match
// always holds for the prefix itself.
func FuzzMatcher(f *testing.F) {
	f.Add("/api", "/api/v1", "example.com", "*.example.com")
	f.Add("/", "", "", "")
	f.Add("/a/", "/a", "[::1]:80", "::1")
	f.Fuzz(func(t *testing.T, prefix, path, host, matchHost string) {
		if prefix == "" || prefix[0] != '/' {
			return
		}
		m := newMatcher(config.Match{PathPrefix: prefix, Host: matchHost})
		r := &http.Request{Method: "GET", Host: host, Header: http.Header{}}
		r.URL = &url.URL{}
		r.URL.Path = path
		_ = m.match(r, requestHost(r))
		r.URL.Path = prefix
		if matchHost == "" && !m.match(r, requestHost(r)) {
			t.Errorf("prefix %q does not match itself", prefix)
		}
		_ = stripPrefix(path, prefix)
	})
}
