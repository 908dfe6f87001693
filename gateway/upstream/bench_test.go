package upstream

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkPick measures one host choice over 10 hosts, per balancer. It
// must not allocate.
func BenchmarkPick(b *testing.B) {
	for _, bc := range []struct {
		name string
		kind uint8
	}{{PeakEWMA, balPeakEWMA}, {LeastRequest, balLeastRequest}, {RoundRobin, balRoundRobin}} {
		hs := testHosts(10)
		pk := newPicker(bc.kind, 1)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var tried, skip mask
			for i := 0; b.Loop(); i++ {
				pk.pick(hs, int64(i), &tried, &skip)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var tried, skip mask
				for pb.Next() {
					pk.pick(hs, 1, &tried, &skip)
				}
			})
		})
	}
}

// BenchmarkRoundTrip compares one attempt through a Pool with one through a
// plain http.Transport, against a local server.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	p := MustNew(Config{Name: "bench", Targets: []string{addr}})
	defer func() { _ = p.Close(context.Background()) }()
	plain := &http.Transport{MaxIdleConnsPerHost: 64}
	defer plain.CloseIdleConnections()
	for _, rc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"plain", plain}, {"pool", p}} {
		send := func(b *testing.B, req *http.Request) {
			resp, err := rc.rt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		b.Run(rc.name, func(b *testing.B) {
			b.ReportAllocs()
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			for b.Loop() {
				send(b, req)
			}
		})
		b.Run(rc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
				for pb.Next() {
					send(b, req)
				}
			})
		})
	}
}
