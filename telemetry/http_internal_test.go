package telemetry

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzHostPort checks hostPort, which stands in for net.SplitHostPort on
// the hot path: it never panics, it agrees with net.SplitHostPort wherever
// that accepts the input and the port is a number in range, and it returns
// a port in [0, 65535].
func FuzzHostPort(f *testing.F) {
	for _, s := range []string{
		"", "example.com", "example.com:8080", "[::1]:443", "[::1]", "::1", "10.0.0.1:0",
		"h:65536", "h:-1", "h:", ":80", "[fe80::1%25en0]:9", "a:b:c", "[", "]:1", "h:+80", "h:0080",
	} {
		f.Add(s, "http")
	}
	f.Fuzz(func(t *testing.T, host, scheme string) {
		h, port := hostPort(host, scheme)
		if port < 0 || port > 65535 {
			t.Fatalf("hostPort(%q): port %d out of range", host, port)
		}
		wh, wp, err := net.SplitHostPort(host)
		if err != nil {
			return
		}
		n, perr := strconv.Atoi(wp)
		if perr != nil || n < 0 || n > 65535 || strings.ContainsAny(wp, "+-") {
			return
		}
		if h != wh || port != n {
			t.Fatalf("hostPort(%q) = %q, %d; net.SplitHostPort gives %q, %q", host, h, port, wh, wp)
		}
	})
}

func TestRouteOf(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"", ""},
		{"/", "/"},
		{"GET /items/{id}", "/items/{id}"},
		{"GET example.com/items/", "/items/"},
		{"example.com/", "/"},
		{"POST /files/{path...}", "/files/{path...}"},
	} {
		if got := routeOf(tc.pattern); got != tc.want {
			t.Errorf("routeOf(%q): got %q, want %q", tc.pattern, got, tc.want)
		}
	}
}
