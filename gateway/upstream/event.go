package upstream

import "time"

// EventKind says what happened to a host.
type EventKind uint8

// Host event kinds.
const (
	EventAdded      EventKind = iota + 1 // the host joined the pool (at New or on a DNS change)
	EventRemoved                         // the host left the pool on a DNS change
	EventEjected                         // outlier detection ejected the host for Event.Duration
	EventReadmitted                      // the host's ejection ended
	EventHealthy                         // active health checks found the host healthy again
	EventUnhealthy                       // active health checks found the host unhealthy
	EventDrained                         // Drain(addr, true): the host gets no new requests
	EventUndrained                       // Drain(addr, false): the host gets requests again
)

var eventKindNames = [...]string{
	EventAdded:      "added",
	EventRemoved:    "removed",
	EventEjected:    "ejected",
	EventReadmitted: "readmitted",
	EventHealthy:    "healthy",
	EventUnhealthy:  "unhealthy",
	EventDrained:    "drained",
	EventUndrained:  "undrained",
}

// String returns the kind's snake_case name, such as "ejected".
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return "unknown"
}

// MarshalText encodes the kind as its name, for JSON.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Reasons carried by Event.Reason.
const (
	ReasonConsecutive5xx     = "consecutive_5xx"
	ReasonConsecutiveConnect = "consecutive_connect_failures"
	ReasonSuccessRate        = "success_rate"
	ReasonLatency            = "latency"
	ReasonHealthCheck        = "health_check"
	ReasonDNS                = "dns"
	ReasonAdmin              = "admin"
	ReasonExpired            = "ejection_expired"
)

// Event is a change of one host's state, passed to Config.OnEvent.
type Event struct {
	Time     time.Time     `json:"time"`
	Upstream string        `json:"upstream"`
	Host     string        `json:"host"`
	Kind     EventKind     `json:"kind"`
	Reason   string        `json:"reason"`
	Duration time.Duration `json:"duration,omitempty"` // ejection length, for EventEjected
}
