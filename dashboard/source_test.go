package dashboard

import (
	"slices"
	"sync"
	"time"

	"github.com/keelhq/keel/gateway"
	"github.com/keelhq/keel/gateway/upstream"
)

// The gateway is a Source.
var _ Source = (*gateway.Gateway)(nil)

// fakeSource is a Source the tests drive by hand.
type fakeSource struct {
	mu     sync.Mutex
	status gateway.Status
	points []gateway.Point // oldest first, one a second
	gen    func(since time.Time) []gateway.Point
	events []gateway.Event
	next   uint64 // Seq of the next event
	notify chan struct{}
}

func newFakeSource() *fakeSource {
	return &fakeSource{next: 1, notify: make(chan struct{})}
}

func (f *fakeSource) Status() gateway.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneStatus(f.status)
}

func (f *fakeSource) Events(since uint64) ([]gateway.Event, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gateway.Event
	for _, e := range f.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out, f.notify
}

// Series returns the points from since's second on, like the gateway's.
func (f *fakeSource) Series(since time.Time) []gateway.Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != nil {
		return f.gen(since)
	}
	from := since.Truncate(time.Second)
	var out []gateway.Point
	for _, p := range f.points {
		if !p.Time.Before(from) {
			out = append(out, p)
		}
	}
	return out
}

// addEvent numbers e, stamps it with the time if it has none, keeps it and
// wakes the streams.
func (f *fakeSource) addEvent(e gateway.Event) gateway.Event {
	f.mu.Lock()
	e.Seq = f.next
	f.next++
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	f.events = append(f.events, e)
	ch := f.notify
	f.notify = make(chan struct{})
	f.mu.Unlock()
	close(ch)
	return e
}

func (f *fakeSource) addPoints(ps ...gateway.Point) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.points = append(f.points, ps...)
}

func (f *fakeSource) setStatus(st gateway.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = cloneStatus(st)
}

// setBreaker sets the breaker state of one host.
func (f *fakeSource) setBreaker(up, host, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = cloneStatus(f.status)
	for i := range f.status.Upstreams {
		if f.status.Upstreams[i].Name != up {
			continue
		}
		for j := range f.status.Upstreams[i].Hosts {
			if f.status.Upstreams[i].Hosts[j].Address == host {
				f.status.Upstreams[i].Hosts[j].Breaker = state
			}
		}
	}
}

// cloneStatus copies the slices a test may change, so that a Status handed
// out is never written again.
func cloneStatus(st gateway.Status) gateway.Status {
	st.Routes = slices.Clone(st.Routes)
	st.Flags = slices.Clone(st.Flags)
	st.Upstreams = slices.Clone(st.Upstreams)
	for i := range st.Upstreams {
		st.Upstreams[i].Hosts = slices.Clone(st.Upstreams[i].Hosts)
	}
	return st
}

// testStatus is a gateway with one upstream of three hosts.
func testStatus(started time.Time) gateway.Status {
	return gateway.Status{
		Started: started,
		Reloads: 1,
		Routes: []gateway.RouteStatus{
			{Name: "api", Upstream: "api", Bulkhead: &gateway.BulkheadStatus{InFlight: 12, Queued: 1, Max: 64}},
			{Name: "catalog", Upstream: "catalog", Cache: &gateway.CacheStatus{Entries: 42}},
		},
		Upstreams: []upstream.Status{
			{Name: "api", Balancer: "p2c", Hosts: []upstream.HostStatus{
				{Address: "10.0.0.1:8080", Healthy: true, Breaker: "closed", Active: 3, Requests: 5120, Failures: 4, LatencyEWMA: 12 * time.Millisecond},
				{Address: "10.0.0.2:8080", Healthy: true, Breaker: "closed", Active: 2, Requests: 5033, Failures: 9, LatencyEWMA: 14 * time.Millisecond},
				{Address: "10.0.0.3:8080", Healthy: true, Breaker: "closed", Active: 4, Requests: 4987, Failures: 120, LatencyEWMA: 31 * time.Millisecond},
			}},
		},
	}
}

// testPoints returns n points, one a second, ending with the second
// before end.
func testPoints(end time.Time, n int) []gateway.Point {
	end = end.Truncate(time.Second)
	out := make([]gateway.Point, n)
	for i := range out {
		out[i] = gateway.Point{
			Time:     end.Add(time.Duration(i-n) * time.Second).UTC(),
			Requests: int64(100 + i), Errors: int64(i % 3),
			P50: 10, P95: 40, P99: 90,
		}
	}
	return out
}
