package flags

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keelhq/keel"
)

// MaxNameLen is the longest flag name accepted.
const MaxNameLen = 128

// Flag is one feature flag or kill switch.
type Flag struct {
	// Name identifies the flag: 1 to 128 of a-z, 0-9, '_', '.' and '-'.
	Name string `json:"name" yaml:"name"`
	// Enabled turns the flag on. False: off for everyone, whatever Percent.
	Enabled bool `json:"enabled" yaml:"enabled"`
	// Percent is the share of calls (Enabled) or of keys (EnabledFor) for
	// which an enabled flag is on, in [0, 1]. Zero means 1: everyone. To
	// turn a flag off, clear Enabled.
	Percent float64 `json:"percent,omitempty" yaml:"percent,omitempty"`
	// Description says what the flag controls. Optional.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// Validate reports the first problem with f, naming the field.
func (f Flag) Validate() error {
	if err := validName(f.Name); err != nil {
		return err
	}
	if math.IsNaN(f.Percent) || f.Percent < 0 || f.Percent > 1 {
		return fmt.Errorf("flags: flag %q: Percent is %v, want 0..1", f.Name, f.Percent)
	}
	return nil
}

func validName(name string) error {
	if name == "" {
		return fmt.Errorf("flags: Name is empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("flags: Name %.20q... is %d bytes long, want at most %d", name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-') {
			return fmt.Errorf("flags: Name %q has %q at byte %d, want only a-z, 0-9, '_', '.', '-'", name, b, i)
		}
	}
	return nil
}

// share is the flag's effective share: 1 for a zero Percent.
func (f Flag) share() float64 {
	if f.Percent == 0 {
		return 1
	}
	return f.Percent
}

// Config configures a [Set]. The zero Config is an empty set.
type Config struct {
	// Flags are the initial flags. Names must be unique.
	Flags []Flag
	// Rand returns a uniform number in [0, 1) for the draw of Enabled on a
	// flag with a Percent below 1. It must be safe for concurrent use. Nil
	// means math/rand/v2's Float64. Tests pass a seeded source.
	Rand func() float64
	// Observer receives the events of the Set's gates. Nil means none are
	// built.
	Observer keel.Observer
}

// Set holds flags. Reads (Enabled, EnabledFor, Get, List) are lock-free and
// allocation-free: they load an atomic pointer to an immutable snapshot.
// Writes (Set, Replace) build a new snapshot and swap it in whole, so a
// reader sees either all of a Replace or none of it. Build a Set with
// [NewSet] or [New]; the zero Set is not usable. A Set is safe for
// concurrent use.
type Set struct {
	snap atomic.Pointer[snapshot]
	rand func() float64
	obs  keel.Observer

	mu    sync.Mutex // serializes writers; readers never take it
	hooks []func(Flag)
}

// snapshot is an immutable set of flags.
type snapshot struct {
	m      map[string]Flag
	sorted []Flag
}

func newSnapshot(m map[string]Flag) *snapshot {
	s := &snapshot{m: m, sorted: make([]Flag, 0, len(m))}
	for _, f := range m {
		s.sorted = append(s.sorted, f)
	}
	slices.SortFunc(s.sorted, func(a, b Flag) int { return strings.Compare(a.Name, b.Name) })
	return s
}

// NewSet returns a Set holding flags, with the default random source. It
// returns an error if a flag is invalid or a name repeats.
func NewSet(flags ...Flag) (*Set, error) {
	return New(Config{Flags: flags})
}

// New returns a Set for cfg, or an error if a flag is invalid or a name
// repeats.
func New(cfg Config) (*Set, error) {
	m, err := build(cfg.Flags)
	if err != nil {
		return nil, err
	}
	s := &Set{rand: cfg.Rand, obs: cfg.Observer}
	if s.rand == nil {
		s.rand = rand.Float64
	}
	s.snap.Store(newSnapshot(m))
	return s, nil
}

// MustNew is like [New] but panics on an error.
func MustNew(cfg Config) *Set {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

func build(flags []Flag) (map[string]Flag, error) {
	m := make(map[string]Flag, len(flags))
	for _, f := range flags {
		if err := f.Validate(); err != nil {
			return nil, err
		}
		if _, dup := m[f.Name]; dup {
			return nil, fmt.Errorf("flags: flag %q is listed twice", f.Name)
		}
		m[f.Name] = f
	}
	return m, nil
}

// Enabled reports whether the flag name is on for this call. An unknown flag
// is off. An enabled flag with a Percent below 1 is on for a random share of
// calls; use [Set.EnabledFor] when one user must get the same answer every
// time.
func (s *Set) Enabled(name string) bool {
	f, ok := s.snap.Load().m[name]
	if !ok || !f.Enabled {
		return false
	}
	p := f.share()
	return p >= 1 || s.rand() < p
}

// EnabledFor reports whether the flag name is on for key (a user, tenant or
// session id). The answer is sticky: it depends only on the flag's name, key
// and Percent, so a key stays in or out across calls, processes and reloads.
// Raising Percent only adds keys; lowering it only removes them. Different
// flags draw independent shares. An unknown flag is off.
func (s *Set) EnabledFor(name, key string) bool {
	f, ok := s.snap.Load().m[name]
	if !ok || !f.Enabled {
		return false
	}
	p := f.share()
	return p >= 1 || unit(name, key) < p
}

// unit hashes name and key to a uniform number in [0, 1): FNV-1a over
// name, a zero byte and key, then the SplitMix64 finalizer to spread the
// bits.
func unit(name, key string) float64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * prime
	}
	h *= prime // the zero separator
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11) / (1 << 53)
}

// Get returns the flag named name and whether it exists.
func (s *Set) Get(name string) (Flag, bool) {
	f, ok := s.snap.Load().m[name]
	return f, ok
}

// List returns every flag, sorted by name, in a new slice.
func (s *Set) List() []Flag {
	return slices.Clone(s.snap.Load().sorted)
}

// Set adds f, or replaces the flag of the same name. It returns an error,
// and changes nothing, if f is invalid.
func (s *Set) Set(f Flag) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	old := s.snap.Load()
	prev, had := old.m[f.Name]
	if had && prev == f {
		s.mu.Unlock()
		return nil
	}
	m := make(map[string]Flag, len(old.m)+1)
	for k, v := range old.m {
		m[k] = v
	}
	m[f.Name] = f
	s.snap.Store(newSnapshot(m))
	hooks := s.hooks
	s.mu.Unlock()
	notify(hooks, []Flag{f})
	return nil
}

// Replace swaps the whole set for flags at once: flags not listed are
// removed. It returns an error, and changes nothing, if a flag is invalid or
// a name repeats.
func (s *Set) Replace(flags ...Flag) error {
	m, err := build(flags)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.snap.Load()
	s.snap.Store(newSnapshot(m))
	hooks := s.hooks
	s.mu.Unlock()
	if len(hooks) == 0 {
		return nil
	}
	var changed []Flag
	for _, f := range old.sorted {
		if _, ok := m[f.Name]; !ok {
			changed = append(changed, Flag{Name: f.Name})
		}
	}
	for _, f := range flags {
		if prev, ok := old.m[f.Name]; !ok || prev != f {
			changed = append(changed, f)
		}
	}
	slices.SortFunc(changed, func(a, b Flag) int { return strings.Compare(a.Name, b.Name) })
	notify(hooks, changed)
	return nil
}

// OnChange registers fn to be called with every flag that Set or Replace
// added or changed, and with Flag{Name: name} (off) for every flag Replace
// removed. fn runs on the writer's goroutine after the change is visible to
// readers, never under a lock; the calls of concurrent writers may
// interleave, so fn should read the Set when the latest value matters. fn
// must not block.
func (s *Set) OnChange(fn func(Flag)) {
	if fn == nil {
		return
	}
	s.mu.Lock()
	s.hooks = append(slices.Clip(s.hooks), fn)
	s.mu.Unlock()
}

func notify(hooks []func(Flag), changed []Flag) {
	for _, f := range changed {
		for _, fn := range hooks {
			fn(f)
		}
	}
}
