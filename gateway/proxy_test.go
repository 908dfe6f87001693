package gateway

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHopByHopHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-End-To-End", "kept")
	})
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
	r := do(t, http.DefaultClient, http.MethodGet, g.url+"/", "", map[string]string{
		"Connection":          "X-Hop",
		"X-Hop":               "secret",
		"Proxy-Authorization": "Basic x",
		"Te":                  "trailers, deflate",
		"X-End-To-End":        "kept",
	})
	h := <-got
	for _, name := range []string{"X-Hop", "Proxy-Authorization", "Keep-Alive"} {
		if v := h.Get(name); v != "" {
			t.Errorf("upstream got hop-by-hop %s: %q", name, v)
		}
	}
	if h.Get("X-End-To-End") != "kept" {
		t.Errorf("upstream lost X-End-To-End")
	}
	if h.Get("Te") != "trailers" {
		t.Errorf("upstream Te = %q, want trailers (the one TE value forwarded)", h.Get("Te"))
	}
	for _, name := range []string{"X-Resp-Hop", "Keep-Alive"} {
		if v := r.header.Get(name); v != "" {
			t.Errorf("client got hop-by-hop %s: %q", name, v)
		}
	}
	if r.header.Get("X-End-To-End") != "kept" {
		t.Errorf("client lost X-End-To-End")
	}
}

func TestForwardedHeaders(t *testing.T) {
	got := make(chan http.Header, 4)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() })
	for _, tc := range []struct {
		name, trusted, wantXFF, wantForwarded string
	}{
		{"untrusted peer: forged headers dropped", "", "127.0.0.1", "for=127.0.0.1;host=shop.example;proto=http"},
		{"trusted peer: appended", "listen: {address: 127.0.0.1:0, trusted_proxies: [127.0.0.1]}\n", "203.0.113.7, 127.0.0.1", "for=203.0.113.7, for=127.0.0.1;host=shop.example;proto=http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, tc.trusted+"upstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.url+"/", nil)
			req.Host = "shop.example"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("Forwarded", "for=203.0.113.7")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			h := <-got
			if v := h.Get("X-Forwarded-For"); v != tc.wantXFF {
				t.Errorf("X-Forwarded-For = %q, want %q", v, tc.wantXFF)
			}
			if v := h.Get("Forwarded"); v != tc.wantForwarded {
				t.Errorf("Forwarded = %q, want %q", v, tc.wantForwarded)
			}
			if h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Host") != "shop.example" {
				t.Errorf("X-Forwarded-Proto %q Host %q", h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"))
			}
			if h.Get("Traceparent") == "" {
				t.Errorf("no traceparent sent upstream")
			}
		})
	}
}

// servers are the listener's two HTTP/1.x servers (listen.server).
var servers = []string{"keel", "net/http"}

// TestStreamingFlush: an event stream reaches the client event by event,
// while the upstream is still writing.
func TestStreamingFlush(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	})
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app, retry: {attempts: 1}}]\n", nil)
	resp, err := http.Get(g.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q %v (the stream was not flushed)", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: second") {
		t.Errorf("second event missing: %q", rest)
	}
}

// TestWebSocketUpgrade: an Upgrade request switches protocols and bytes flow
// both ways through the gateway.
func TestWebSocketUpgrade(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(brw, buf); err == nil {
			_, _ = conn.Write([]byte(strings.ToUpper(string(buf))))
		}
	})
	for _, server := range servers {
		t.Run(server, func(t *testing.T) {
			g := startGateway(t, "listen: {address: 127.0.0.1:0, server: "+server+"}\nupstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
			webSocketEcho(t, g)
		})
	}
}

func webSocketEcho(t *testing.T, g *testGateway) {
	conn, err := net.DialTimeout("tcp", g.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil) //nolint:bodyclose // a 101 has no body; the connection is closed below
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("got %d %v, want 101 with Upgrade: websocket", resp.StatusCode, resp.Header)
	}
	_, _ = io.WriteString(conn, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "PING" {
		t.Errorf("echo: %q %v, want PING", buf, err)
	}
}

func TestTrailers(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	})
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
	resp, err := http.Get(g.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.ReadAll(resp.Body)
	if v := resp.Trailer.Get("X-Checksum"); v != "abc" {
		t.Errorf("trailer X-Checksum = %q, want abc", v)
	}
}

// TestRequestLimits: a body over max_body_bytes gets 413 (declared or
// streamed), headers over max_header_bytes get 431, and the upstream sees
// neither.
func TestRequestLimits(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	for _, server := range servers {
		t.Run(server, func(t *testing.T) {
			g := startGateway(t, "listen: {address: 127.0.0.1:0, max_body_bytes: 1KiB, max_header_bytes: 1KiB, server: "+server+"}\nupstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
			requestLimits(t, g)
		})
	}
	if b.count() != 2 {
		t.Errorf("the upstream saw %d requests, want the 2 small ones", b.count())
	}
}

func requestLimits(t *testing.T, g *testGateway) {
	big := strings.Repeat("x", 4096)
	if r := do(t, http.DefaultClient, http.MethodPut, g.url+"/", big, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("declared large body: %d, want 413", r.status)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, g.url+"/", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1 // chunked: the limit is found while streaming
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed large body: %d, want 413", resp.StatusCode)
	}
	if r := do(t, http.DefaultClient, http.MethodGet, g.url+"/", "", map[string]string{"X-Big": strings.Repeat("h", 8<<10)}); r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("large header: %d, want 431", r.status)
	}
	if r := do(t, http.DefaultClient, http.MethodPut, g.url+"/", "small", nil); r.status != 200 {
		t.Errorf("small body: %d", r.status)
	}
}

// TestSlowloris: a client that never finishes its headers is disconnected
// after read_header_timeout.
func TestSlowloris(t *testing.T) {
	for _, server := range servers {
		t.Run(server, func(t *testing.T) {
			b := newBackend(t, text(200, "ok"))
			g := startGateway(t, "listen: {address: 127.0.0.1:0, read_header_timeout: 200ms, server: "+server+"}\nupstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
			slowloris(t, g, b)
		})
	}
}

func slowloris(t *testing.T, g *testGateway, b *backend) {
	conn, err := net.DialTimeout("tcp", g.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn) // returns when the server closes the connection
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v, want about 200ms", d)
	}
	if b.count() != 0 {
		t.Errorf("upstream saw %d requests", b.count())
	}
}

// TestH2C: with listen.h2c a client speaking HTTP/2 with prior knowledge
// is served (the upstream still gets HTTP/1.1); without it, it is not.
func TestH2C(t *testing.T) {
	protos := make(chan string, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		_, _ = io.WriteString(w, "over "+r.Proto) //nolint:gosec // a test backend echoing the protocol, not HTML
	})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true) // prior knowledge, no HTTP/1.1
	client := &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 5 * time.Second}
	for _, tc := range []struct {
		name string
		h2c  bool
	}{{"h2c on", true}, {"h2c off", false}} {
		t.Run(tc.name, func(t *testing.T) {
			listen := "listen: {address: 127.0.0.1:0}\n"
			if tc.h2c {
				listen = "listen: {address: 127.0.0.1:0, h2c: true}\n"
			}
			g := startGateway(t, listen+"upstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.url+"/", nil)
			resp, err := client.Do(req)
			if !tc.h2c {
				if err == nil {
					_ = resp.Body.Close()
					t.Fatalf("an h2c request without listen.h2c: got %s, want an error", resp.Proto)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "over HTTP/1.1" {
				t.Errorf("got %s %d %q, want HTTP/2.0 200 %q", resp.Proto, resp.StatusCode, body, "over HTTP/1.1")
			}
			if got := <-protos; got != "HTTP/1.1" {
				t.Errorf("upstream request: got %s, want HTTP/1.1", got)
			}
		})
	}
}

// TestTLSAndHTTP2: the listener serves TLS from cert files and speaks
// HTTP/2 to clients that offer it.
func TestTLSAndHTTP2(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	certFile, keyFile := selfSigned(t)
	g := startGateway(t, fmt.Sprintf("listen: {address: 127.0.0.1:0, tls: {cert_file: %q, key_file: %q}}\nupstreams:\n%sroutes: [{name: app, upstream: app}]\n", certFile, keyFile, upstreamYAML("app", "", b.addr())), nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true} //nolint:gosec // a self-signed test certificate
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	resp, err := c.Get("https://" + g.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" || resp.ProtoMajor != 2 {
		t.Errorf("got %d %q over %s, want 200 ok over HTTP/2", resp.StatusCode, body, resp.Proto)
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestEncodingPassesThrough: the gateway neither asks the upstream for gzip
// on the client's behalf nor inflates a compressed answer.
func TestEncodingPassesThrough(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Got-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write([]byte("\x1f\x8b not really gzip"))
			return
		}
		_, _ = io.WriteString(w, "plain")
	})
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	if r := do(t, c, http.MethodGet, g.url+"/", "", nil); r.header.Get("X-Got-Accept-Encoding") != "" || r.body != "plain" {
		t.Errorf("no Accept-Encoding: upstream got %q, body %q", r.header.Get("X-Got-Accept-Encoding"), r.body)
	}
	r := do(t, c, http.MethodGet, g.url+"/", "", map[string]string{"Accept-Encoding": "gzip"})
	if r.header.Get("Content-Encoding") != "gzip" || r.body != "\x1f\x8b not really gzip" {
		t.Errorf("gzip: Content-Encoding %q, body %q; want the upstream's bytes as they were", r.header.Get("Content-Encoding"), r.body)
	}
}

// TestForwardingApply covers the address forms and the quoting of RFC 7239
// values, header by header.
func TestForwardingApply(t *testing.T) {
	trusted := &forwarding{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		name       string
		fwd        *forwarding
		remote     string
		host       string
		tls        bool
		in         http.Header
		wantXFF    []string
		wantFwd    string
		wantXFHost string
		wantXFProt string
	}{
		{name: "IPv4", fwd: &forwarding{}, remote: "192.0.2.1:5000", host: "shop.example",
			wantXFF: []string{"192.0.2.1"}, wantFwd: "for=192.0.2.1;host=shop.example;proto=http", wantXFHost: "shop.example", wantXFProt: "http"},
		{name: "IPv6, host with a port, TLS", fwd: &forwarding{}, remote: "[2001:db8::1]:5000", host: "shop.example:8443", tls: true,
			wantXFF: []string{"2001:db8::1"}, wantFwd: `for="[2001:db8::1]";host="shop.example:8443";proto=https`, wantXFHost: "shop.example:8443", wantXFProt: "https"},
		{name: "IPv4-mapped IPv6 is IPv4", fwd: &forwarding{}, remote: "[::ffff:192.0.2.9]:1", host: "a",
			wantXFF: []string{"192.0.2.9"}, wantFwd: "for=192.0.2.9;host=a;proto=http", wantXFHost: "a", wantXFProt: "http"},
		{name: "unknown peer", fwd: &forwarding{}, remote: "pipe", host: "a",
			wantXFF: nil, wantFwd: "for=unknown;host=a;proto=http", wantXFHost: "a", wantXFProt: "http"},
		{name: "forged headers dropped", fwd: &forwarding{}, remote: "192.0.2.1:1", host: "a",
			in:      http.Header{"X-Forwarded-For": {"6.6.6.6"}, "X-Forwarded-Host": {"evil"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"for=6.6.6.6"}},
			wantXFF: []string{"192.0.2.1"}, wantFwd: "for=192.0.2.1;host=a;proto=http", wantXFHost: "a", wantXFProt: "http"},
		{name: "trusted proxy: appended and kept", fwd: trusted, remote: "10.1.2.3:1", host: "a",
			in:      http.Header{"X-Forwarded-For": {"203.0.113.7", "198.51.100.2"}, "X-Forwarded-Host": {"orig"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"for=203.0.113.7"}},
			wantXFF: []string{"203.0.113.7, 198.51.100.2, 10.1.2.3"}, wantFwd: "for=203.0.113.7, for=10.1.2.3;host=a;proto=http", wantXFHost: "orig", wantXFProt: "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &http.Request{RemoteAddr: tc.remote, Host: tc.host, Header: http.Header{}}
			if tc.tls {
				in.TLS = &tls.ConnectionState{}
			}
			out := http.Header{}
			for k, v := range tc.in {
				out[k] = v
			}
			tc.fwd.apply(out, in)
			if diff := cmp.Diff(tc.wantXFF, out["X-Forwarded-For"]); diff != "" {
				t.Errorf("X-Forwarded-For (-want +got):\n%s", diff)
			}
			if got := out["Forwarded"]; len(got) != 1 || got[0] != tc.wantFwd {
				t.Errorf("Forwarded: got %q, want [%q]", got, tc.wantFwd)
			}
			if got := out.Get("X-Forwarded-Host"); got != tc.wantXFHost {
				t.Errorf("X-Forwarded-Host: got %q, want %q", got, tc.wantXFHost)
			}
			if got := out.Get("X-Forwarded-Proto"); got != tc.wantXFProt {
				t.Errorf("X-Forwarded-Proto: got %q, want %q", got, tc.wantXFProt)
			}
		})
	}
	in := &http.Request{RemoteAddr: "192.0.2.1:5000", Host: "shop.example"}
	if n := testing.AllocsPerRun(100, func() { (&forwarding{}).apply(http.Header{}, in) }); n > 2+4 {
		// two of ours, four of the map growing
		t.Errorf("allocations: got %v, want at most 6", n)
	}
}

// TestClientGoneCancelsUpstream: a client that hangs up while the upstream
// is slow ends the upstream request too, with either server.
func TestClientGoneCancelsUpstream(t *testing.T) {
	for _, server := range servers {
		t.Run(server, func(t *testing.T) {
			ended := make(chan struct{}, 1)
			entered := make(chan struct{}, 1)
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				select {
				case <-r.Context().Done():
					ended <- struct{}{}
				case <-time.After(10 * time.Second):
				}
			})
			g := startGateway(t, "listen: {address: 127.0.0.1:0, server: "+server+"}\nupstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app, timeout: 20s, retry: {attempts: 1}}]\n", nil)
			conn, err := net.DialTimeout("tcp", g.Addr(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(conn, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
			<-entered
			_ = conn.Close()
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream request went on after the client left")
			}
		})
	}
}
