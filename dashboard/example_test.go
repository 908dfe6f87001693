package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keelhq/keel/dashboard"
	"github.com/keelhq/keel/gateway"
	"github.com/keelhq/keel/gateway/upstream"
)

// source stands in for a *gateway.Gateway.
type source struct{}

func (source) Status() gateway.Status {
	return gateway.Status{Upstreams: []upstream.Status{{Name: "api", Hosts: []upstream.HostStatus{
		{Address: "10.0.0.1:8080", Healthy: true, Breaker: "open"},
	}}}}
}

// Events: none kept, and a nil channel, which never signals a new one.
func (source) Events(uint64) ([]gateway.Event, <-chan struct{}) { return nil, nil }

func (source) Series(since time.Time) []gateway.Point {
	return []gateway.Point{{Time: since.Truncate(time.Second), Requests: 120, Errors: 3, P50: 8, P95: 21, P99: 40}}
}

// A gateway mounts the dashboard on its admin listener:
//
//	d, err := dashboard.New(gw, dashboard.Config{})
//	gw.HandleAdmin("GET /", d)
//
// Here it is served directly, and its snapshot read.
func ExampleNew() {
	d, err := dashboard.New(source{}, dashboard.Config{Title: "edge-1", History: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/snapshot", nil))

	var snap dashboard.Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil {
		log.Fatal(err)
	}
	h := snap.Status.Upstreams[0].Hosts[0]
	fmt.Println(rec.Code, snap.Title, snap.HistoryMS)
	fmt.Println(h.Address, "breaker", h.Breaker)
	fmt.Println(len(snap.Series), "point:", snap.Series[0].Requests, "requests, p99", snap.Series[0].P99, "ms")
	// Output:
	// 200 edge-1 60000
	// 10.0.0.1:8080 breaker open
	// 1 point: 120 requests, p99 40 ms
}

// Shutdown ends the open streams, so that the server serving them can shut
// down too.
func ExampleDashboard_Shutdown() {
	d := dashboard.MustNew(source{}, dashboard.Config{})
	srv := httptest.NewServer(d)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/stream")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		panic(err)
	}
	var body strings.Builder
	_, err = io.Copy(&body, resp.Body) // ends: the server closed the stream
	fmt.Println(err, strings.Count(body.String(), "event: snapshot"))

	again, err := http.Get(srv.URL + "/api/stream")
	if err != nil {
		panic(err)
	}
	again.Body.Close()
	fmt.Println(again.Status)
	// Output:
	// 200 OK text/event-stream
	// <nil> 1
	// 503 Service Unavailable
}
