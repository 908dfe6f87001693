package breaker

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// DefaultMaxKeys is the bound of a Group whose MaxKeys is zero.
const DefaultMaxKeys = 1024

// GroupConfig configures a [Group]. The zero GroupConfig is valid: up to 1024
// breakers with the default Config.
type GroupConfig struct {
	// Breaker configures every breaker of the group. A breaker's Name is its
	// key, or Breaker.Name + "/" + key when Breaker.Name is set. When
	// Breaker.Rand is set, each breaker gets its own generator seeded from it.
	Breaker Config
	// MaxKeys bounds the number of breakers kept. Zero means 1024.
	MaxKeys int
	// OnEvict, if set, is called with every breaker the group drops to stay
	// within MaxKeys, after the group's lock is released. Callers still holding
	// the breaker may go on using it; the group no longer hands it out.
	OnEvict func(key string, b *Breaker)
}

// Validate reports the first invalid field of c, or nil.
func (c GroupConfig) Validate() error {
	if c.MaxKeys < 0 {
		return fmt.Errorf("breaker: GroupConfig.MaxKeys %d is negative", c.MaxKeys)
	}
	if err := c.Breaker.Validate(); err != nil {
		return fmt.Errorf("breaker: GroupConfig.Breaker: %w", err)
	}
	return nil
}

// Group keeps one Breaker per key (a host, a route), created on first use from
// a shared Config, and at most MaxKeys of them.
//
// When a new key would exceed MaxKeys, the group drops the least recently used
// breaker that is closed, disabled or metrics-only, so that the state of open,
// half-open and forced-open breakers survives. Only when every breaker is in
// one of those states does it drop the least recently used breaker regardless,
// and that is reported, like every eviction, through OnEvict. Finding a victim
// scans from the least recently used end, so it costs up to MaxKeys steps when
// most breakers are open.
//
// A Group is safe for concurrent use. Use [NewGroup] or [MustNewGroup]; the
// zero Group is not usable.
type Group struct {
	cfg  GroupConfig
	max  int
	mu   sync.Mutex
	keys map[string]*entry
	// head.next is the most recently used entry, head.prev the least.
	head entry
}

type entry struct {
	key        string
	b          *Breaker
	prev, next *entry
}

// NewGroup returns an empty group, or the error of cfg.Validate.
func NewGroup(cfg GroupConfig) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Group{cfg: cfg, max: cfg.MaxKeys, keys: make(map[string]*entry)}
	if g.max == 0 {
		g.max = DefaultMaxKeys
	}
	g.head.prev, g.head.next = &g.head, &g.head
	return g, nil
}

// MustNewGroup is like NewGroup but panics if cfg is invalid.
func MustNewGroup(cfg GroupConfig) *Group {
	g, err := NewGroup(cfg)
	if err != nil {
		panic(err)
	}
	return g
}

// Get returns the breaker for key, creating it if needed. Getting an existing
// key does not allocate.
func (g *Group) Get(key string) *Breaker {
	g.mu.Lock()
	if e, ok := g.keys[key]; ok {
		g.unlink(e)
		g.pushFront(e)
		g.mu.Unlock()
		return e.b
	}
	cfg := g.cfg.Breaker
	if cfg.Name == "" {
		cfg.Name = key
	} else {
		cfg.Name = cfg.Name + "/" + key
	}
	if r := cfg.Rand; r != nil {
		cfg.Rand = rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
	}
	b := MustNew(cfg) // cfg was validated by NewGroup
	var victim *entry
	if len(g.keys) >= g.max {
		victim = g.victim()
		g.unlink(victim)
		delete(g.keys, victim.key)
	}
	e := &entry{key: key, b: b}
	g.keys[key] = e
	g.pushFront(e)
	g.mu.Unlock()
	if victim != nil && g.cfg.OnEvict != nil {
		g.cfg.OnEvict(victim.key, victim.b)
	}
	return b
}

// victim picks the entry to evict: the least recently used one in a state
// without memory worth keeping, else the least recently used.
func (g *Group) victim() *entry {
	for e := g.head.prev; e != &g.head; e = e.prev {
		switch e.b.peekState() {
		case Closed, Disabled, MetricsOnly:
			return e
		}
	}
	return g.head.prev
}

// Len returns the number of breakers in the group.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.keys)
}

// Delete removes the breaker for key, if any, and reports whether there was
// one. OnEvict is not called.
func (g *Group) Delete(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.keys[key]
	if ok {
		g.unlink(e)
		delete(g.keys, key)
	}
	return ok
}

func (g *Group) unlink(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (g *Group) pushFront(e *entry) {
	e.prev = &g.head
	e.next = g.head.next
	g.head.next.prev = e
	g.head.next = e
}
