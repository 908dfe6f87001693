package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// status is the part of the admin API's /status the tests read.
type status struct {
	Draining        bool   `json:"draining"`
	Reloads         int    `json:"reloads"`
	LastReloadError string `json:"last_reload_error"`
	Routes          []struct {
		Name string `json:"name"`
	} `json:"routes"`
	Upstreams []struct {
		Name  string       `json:"name"`
		Panic bool         `json:"panic"`
		Hosts []hostStatus `json:"hosts"`
	} `json:"upstreams"`
}

type hostStatus struct {
	Address   string `json:"address"`
	Ejected   bool   `json:"ejected"`
	Ejections int    `json:"ejections"`
	Breaker   string `json:"breaker"`
	Requests  int    `json:"requests"`
	Failures  int    `json:"failures"`
}

// event is one entry of the admin API's /events.
type event struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Upstream string    `json:"upstream"`
	Host     string    `json:"host"`
	Detail   string    `json:"detail"`
}

func (e event) String() string {
	return fmt.Sprintf("%s %s %s %s", e.Kind, e.Upstream, e.Host, e.Detail)
}

func (g *gateway) status(t *testing.T) status {
	t.Helper()
	var s status
	getJSON(t, g.admin+"/status", &s)
	return s
}

// host returns the status of the host at addr in the first upstream.
func (s status) host(addr string) (hostStatus, bool) {
	for _, u := range s.Upstreams {
		for _, h := range u.Hosts {
			if h.Address == addr {
				return h, true
			}
		}
	}
	return hostStatus{}, false
}

func (g *gateway) events(t *testing.T) []event {
	t.Helper()
	var evs []event
	getJSON(t, g.admin+"/events", &evs)
	return evs
}

// findEvent returns the first event of kind about addr (its host field, or
// its detail for breaker events) whose detail starts with detailPrefix.
func findEvent(evs []event, kind, addr, detailPrefix string) (event, bool) {
	for _, e := range evs {
		if e.Kind != kind {
			continue
		}
		if e.Host != addr && !strings.Contains(e.Detail, addr) {
			continue
		}
		if strings.HasPrefix(e.Detail, detailPrefix) {
			return e, true
		}
	}
	return event{}, false
}

// waitEvent waits up to d for an event as findEvent finds it.
func (g *gateway) waitEvent(t *testing.T, d time.Duration, kind, addr, detailPrefix string) event {
	t.Helper()
	var found event
	waitFor(t, d, fmt.Sprintf("event %s for %s (%q)", kind, addr, detailPrefix), func() (bool, string) {
		evs := g.events(t)
		e, ok := findEvent(evs, kind, addr, detailPrefix)
		found = e
		return ok, fmt.Sprintf("events: %v", evs)
	})
	return found
}
