package tcpproxy_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keelhq/keel/chaos/tcpproxy"
)

// A proxy with a latency toxic, created from Go, delays what the upstream
// sends.
func ExampleServer_CreateProxy() {
	up, _ := net.Listen("tcp", "127.0.0.1:0")
	defer func() { _ = up.Close() }()
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, "hello")
		_ = c.Close()
	}()

	s := tcpproxy.MustNew(tcpproxy.Config{Seed: 1, Logger: slog.New(slog.DiscardHandler)})
	defer func() { _ = s.Close() }()
	p, err := s.CreateProxy(tcpproxy.Proxy{
		Name: "svc", Listen: "127.0.0.1:0", Upstream: up.Addr().String(), Enabled: true,
		Toxics: []tcpproxy.Toxic{{Type: "latency", Toxicity: 1, Attributes: tcpproxy.Attributes{"latency": 100}}},
	})
	if err != nil {
		panic(err)
	}
	c, _ := net.Dial("tcp", p.Listen)
	defer func() { _ = c.Close() }()
	start := time.Now()
	b, _ := io.ReadAll(c)
	fmt.Println(string(b), time.Since(start) >= 100*time.Millisecond)
	// Output:
	// hello true
}

// The control API speaks Toxiproxy's JSON.
func ExampleServer_ServeHTTP() {
	s := tcpproxy.MustNew(tcpproxy.Config{Seed: 1, Logger: slog.New(slog.DiscardHandler)})
	defer func() { _ = s.Close() }()
	do := func(method, path, body string) {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
	}
	// A disabled proxy does not listen, so its address can be fixed here.
	do(http.MethodPost, "/proxies", `{"name":"db","listen":"127.0.0.1:15432","upstream":"127.0.0.1:5432","enabled":false}`)
	do(http.MethodPost, "/proxies/db/toxics", `{"type":"bandwidth","attributes":{"rate":64}}`)
	do(http.MethodDelete, "/proxies/db/toxics/bandwidth_downstream", "")
	do(http.MethodGet, "/proxies/nope", "")
	// Output:
	// 201 {"name":"db","listen":"127.0.0.1:15432","upstream":"127.0.0.1:5432","enabled":false,"toxics":[]}
	// 200 {"name":"bandwidth_downstream","type":"bandwidth","stream":"downstream","toxicity":1,"attributes":{"rate":64}}
	// 204
	// 404 {"error":"proxy not found: \"nope\"","status":404}
}
