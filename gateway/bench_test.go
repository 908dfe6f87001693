package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkProxy sends GETs through the gateway (retries, per-host
// breakers, outlier detection and metrics on, access log off) and through a
// bare httputil.ReverseProxy to the same three backends, in one process:
// the difference per request is what the gateway's resilience costs. The
// client, proxies and backends share the CPUs, so compare the two, not the
// absolute figures; bench/proxy/run.sh measures each proxy on its own core.
func BenchmarkProxy(b *testing.B) {
	body := strings.Repeat("x", 100)
	var backends []*httptest.Server
	var targets []string
	for range 3 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, body)
		}))
		b.Cleanup(s.Close)
		backends = append(backends, s)
		targets = append(targets, strings.TrimPrefix(s.URL, "http://"))
	}
	bench := func(b *testing.B, url string) {
		tr := &http.Transport{MaxIdleConnsPerHost: 256}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := c.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	b.Run("httputil", func(b *testing.B) {
		var n atomic.Uint64
		tr := &http.Transport{MaxIdleConnsPerHost: 256}
		defer tr.CloseIdleConnections()
		rp := &httputil.ReverseProxy{
			Transport: tr,
			Rewrite: func(pr *httputil.ProxyRequest) {
				u, _ := url.Parse(backends[n.Add(1)%3].URL)
				pr.SetURL(u)
			},
		}
		s := httptest.NewServer(rp)
		defer s.Close()
		bench(b, s.URL+"/")
	})
	b.Run("keel", func(b *testing.B) {
		g := startGateway(b, `
telemetry: {access_log: false}
upstreams:
  app:
    targets: ["`+strings.Join(targets, `", "`)+`"]
    balancer: round_robin
    max_idle_connections_per_host: 256
routes:
  - name: app
    upstream: app
`, nil)
		bench(b, g.url+"/")
	})
}
