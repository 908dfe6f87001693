package keeltest

import (
	"context"
	"slices"
	"sync"

	"github.com/keelhq/keel"
)

// Recorder is a keel.Observer that keeps every event it receives, in order.
//
// The zero Recorder is ready to use. A Recorder is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []keel.Event
}

var _ keel.Observer = (*Recorder)(nil)

// Observe records e. The context is not kept.
func (r *Recorder) Observe(_ context.Context, e keel.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns a copy of the events recorded so far, oldest first.
func (r *Recorder) Events() []keel.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Kinds returns the kinds of the events recorded so far, oldest first. It is
// never nil, so it compares equal to an empty literal with go-cmp.
func (r *Recorder) Kinds() []keel.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	kinds := make([]keel.EventKind, len(r.events))
	for i, e := range r.events {
		kinds[i] = e.Kind
	}
	return kinds
}

// Count returns how many events of the given kind were recorded.
func (r *Recorder) Count(kind keel.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// Reset forgets every recorded event.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
