package boltstore

// HoldWriter makes the store's writers queue, as they do behind a commit in
// progress, until the returned function is called.
func HoldWriter(s *Store) (release func()) {
	s.w.mu.Lock()
	if s.w.leading {
		panic("HoldWriter: a writer is leading")
	}
	s.w.leading = true
	s.w.mu.Unlock()
	return s.handOff
}
