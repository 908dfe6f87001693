package dashboard

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keelhq/keel/gateway"
)

// benchSource is a gateway with one upstream of three hosts, five minutes
// of points and ten events.
func benchSource() *fakeSource {
	now := time.Now()
	src := newFakeSource()
	src.setStatus(testStatus(now.Add(-time.Hour)))
	src.addPoints(testPoints(now, 300)...)
	for range 10 {
		src.addEvent(gateway.Event{Kind: "host_ejected", Upstream: "api", Host: "10.0.0.3:8080", Detail: "5 consecutive 5xx for 30s"})
	}
	return src
}

// BenchmarkSnapshot is GET /api/snapshot: status, 300 points, 10 events.
func BenchmarkSnapshot(b *testing.B) {
	d := MustNew(benchSource(), Config{})
	req := httptest.NewRequest(http.MethodGet, "/api/snapshot", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

func BenchmarkSnapshotParallel(b *testing.B) {
	d := MustNew(benchSource(), Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/api/snapshot", nil)
		for pb.Next() {
			rec := httptest.NewRecorder()
			d.ServeHTTP(rec, req)
		}
	})
}

// BenchmarkTick is what one stream does every Interval: read the status
// and the new points, encode them as an event.
func BenchmarkTick(b *testing.B) {
	src := benchSource()
	d := MustNew(src, Config{})
	s := &stream{}
	last := src.points[len(src.points)-2].Time
	b.ReportAllocs()
	for b.Loop() {
		tick := Tick{Time: time.Now(), Status: d.src.Status()}
		tick.Points, _ = d.newPoints(last)
		if err := s.event("snapshot", "", tick); err != nil {
			b.Fatal(err)
		}
		s.buf.Reset()
	}
}

// BenchmarkAsset is GET of the largest embedded file (uPlot), revalidated
// by ETag as a browser with a warm cache does.
func BenchmarkAsset(b *testing.B) {
	d := MustNew(newFakeSource(), Config{})
	f := d.assets.files["vendor/uplot/uPlot.iife.min.js"]
	req := httptest.NewRequest(http.MethodGet, "/assets/vendor/uplot/uPlot.iife.min.js", nil)
	req.Header.Set("If-None-Match", f.etag)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			b.Fatal(rec.Code)
		}
	}
}
