package gateway

import (
	"crypto/sha256"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel/flags"
)

// Event is one thing that happened to the gateway worth showing an
// operator: a host ejected or readmitted, a breaker opening or closing, a
// reload, a flag change. The admin API lists the recent ones (/events) and
// streams new ones.
type Event struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // host_ejected, breaker_open, reload, reload_failed, flag, drain, ...
	Upstream string    `json:"upstream,omitempty"`
	Host     string    `json:"host,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// eventLog keeps the last events in a ring and wakes subscribers when one
// is added.
type eventLog struct {
	mu     sync.Mutex
	ring   []Event
	next   uint64 // sequence number of the next event
	notify chan struct{}
}

func newEventLog(size int) *eventLog {
	return &eventLog{ring: make([]Event, 0, size), next: 1, notify: make(chan struct{})}
}

func (l *eventLog) add(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.mu.Lock()
	e.Seq = l.next
	l.next++
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, e)
	} else {
		l.ring[(e.Seq-1)%uint64(cap(l.ring))] = e
	}
	ch := l.notify
	l.notify = make(chan struct{})
	l.mu.Unlock()
	close(ch)
}

// since returns the kept events with Seq > seq, oldest first, and a channel
// closed when another is added.
func (l *eventLog) since(seq uint64) ([]Event, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	n := len(l.ring)
	first := l.next - uint64(n) // Seq of the oldest kept event
	for s := max(seq+1, first); s < l.next; s++ {
		out = append(out, l.ring[(s-1)%uint64(cap(l.ring))])
	}
	return out, l.notify
}

func hashBytes(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func flagDetail(f flags.Flag) string {
	state := "off"
	if f.Enabled {
		state = "on"
		if f.Percent < 1 {
			state += " for " + strconv.FormatFloat(f.Percent*100, 'f', -1, 64) + "%"
		}
	}
	return f.Name + " " + state
}
