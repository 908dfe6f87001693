package boltstore

// HoldWriter takes the store's writer slot, as a write transaction in
// progress would, until the returned function is called.
func HoldWriter(s *Store) (release func()) {
	s.writer <- struct{}{}
	return func() { <-s.writer }
}
