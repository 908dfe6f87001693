package tcpproxy

import (
	"fmt"
	"slices"
	"time"
)

// Toxic is a fault applied to the traffic of a proxy, in one direction, as
// Toxiproxy defines it. It reads and writes as Toxiproxy's JSON.
type Toxic struct {
	// Name identifies the toxic within its proxy. Empty means
	// "<type>_<stream>".
	Name string `json:"name"`
	// Type is one of latency, bandwidth, slow_close, timeout, reset_peer,
	// slicer and limit_data.
	Type string `json:"type"`
	// Stream is the direction the toxic applies to: "upstream" (client to
	// server) or "downstream" (server to client). Empty means downstream.
	Stream string `json:"stream"`
	// Toxicity is the probability, in [0, 1], that the toxic applies to a
	// connection, drawn once per connection from the Server's seeded
	// generator. 0 means never. When a toxic is created without a toxicity
	// in its JSON, it is 1.
	Toxicity float64 `json:"toxicity"`
	// Attributes are the toxic's parameters, by name (see the package
	// documentation). Missing ones are 0; unknown ones are dropped.
	Attributes Attributes `json:"attributes"`
}

// Attributes are the integer parameters of a toxic.
type Attributes map[string]int64

// toxicTypes lists each toxic type's attributes, in the order Toxiproxy
// documents them.
var toxicTypes = map[string][]string{
	"latency":    {"latency", "jitter"},
	"bandwidth":  {"rate"},
	"slow_close": {"delay"},
	"timeout":    {"timeout"},
	"reset_peer": {"timeout"},
	"slicer":     {"average_size", "size_variation", "delay"},
	"limit_data": {"bytes"},
}

const (
	streamUpstream   = "upstream"
	streamDownstream = "downstream"
)

// normalize fills defaults, drops unknown attributes and validates t.
func (t *Toxic) normalize() error {
	names, ok := toxicTypes[t.Type]
	if !ok {
		return fmt.Errorf("%w: invalid toxic type %q", ErrBadRequest, t.Type)
	}
	switch t.Stream {
	case "":
		t.Stream = streamDownstream
	case streamUpstream, streamDownstream:
	default:
		return fmt.Errorf("%w: stream was invalid, can be either upstream or downstream", ErrBadRequest)
	}
	if t.Name == "" {
		t.Name = t.Type + "_" + t.Stream
	}
	if !(t.Toxicity >= 0 && t.Toxicity <= 1) {
		return fmt.Errorf("%w: toxicity must be in [0, 1], got %v", ErrBadRequest, t.Toxicity)
	}
	attrs := make(Attributes, len(names))
	for _, n := range names {
		v := t.Attributes[n]
		if v < 0 {
			return fmt.Errorf("%w: attribute %s of a %s toxic must be >= 0, got %d", ErrBadRequest, n, t.Type, v)
		}
		attrs[n] = v
	}
	if t.Type == "slicer" && attrs["average_size"] == 0 {
		return fmt.Errorf("%w: attribute average_size of a slicer toxic must be > 0", ErrBadRequest)
	}
	t.Attributes = attrs
	return nil
}

func (t *Toxic) clone() Toxic {
	c := *t
	c.Attributes = make(Attributes, len(t.Attributes))
	for k, v := range t.Attributes {
		c.Attributes[k] = v
	}
	return c
}

// toxic is a validated Toxic as a proxy applies it. It is immutable: an
// update replaces it.
type toxic struct {
	Toxic
	upstream bool

	latency, jitter  time.Duration
	rate             int64 // bytes per second
	delay            time.Duration
	timeout          time.Duration
	avgSize, sizeVar int
	bytes            int64
}

func newToxic(t Toxic) *toxic {
	a := t.Attributes
	ms := func(k string) time.Duration { return time.Duration(a[k]) * time.Millisecond }
	x := &toxic{Toxic: t, upstream: t.Stream == streamUpstream}
	switch t.Type {
	case "latency":
		x.latency, x.jitter = ms("latency"), ms("jitter")
	case "bandwidth":
		x.rate = a["rate"] * 1000 // KB/s, as Toxiproxy: 1 KB = 1000 bytes
	case "slow_close":
		x.delay = ms("delay")
	case "timeout", "reset_peer":
		x.timeout = ms("timeout")
	case "slicer":
		x.avgSize, x.sizeVar = int(a["average_size"]), int(a["size_variation"])
		x.delay = time.Duration(a["delay"]) * time.Microsecond
	case "limit_data":
		x.bytes = a["bytes"]
	}
	return x
}

// toxicSet is the toxics of a proxy at one moment. It is immutable and
// swapped whole; a new set tells the connections to look again.
type toxicSet struct {
	all []*toxic // in the order they were added
}

func (s *toxicSet) find(name string) int {
	return slices.IndexFunc(s.all, func(t *toxic) bool { return t.Name == name })
}

func (s *toxicSet) list() []Toxic {
	out := make([]Toxic, len(s.all))
	for i, t := range s.all {
		out[i] = t.clone()
	}
	return out
}
