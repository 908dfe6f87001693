package shed

import (
	"context"
	"errors"
	"testing"
)

func FuzzParseCriticality(f *testing.F) {
	for _, s := range []string{"critical", "DEFAULT", " sheddable_plus ", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCriticality(s)
		if !c.Valid() {
			t.Fatalf("ParseCriticality(%q) = %v, not a valid class", s, c)
		}
		if err != nil && (c != Default || !errors.Is(err, ErrCriticality)) {
			t.Fatalf("ParseCriticality(%q) = %v, %v; want Default and ErrCriticality", s, c, err)
		}
		if err == nil {
			if c2, err2 := ParseCriticality(c.String()); err2 != nil || c2 != c {
				t.Fatalf("round trip of %v: got %v, %v", c, c2, err2)
			}
		}
	})
}

// FuzzThresholds checks that any valid Config orders the class limits and
// that admission never exceeds them.
func FuzzThresholds(f *testing.F) {
	f.Add(10, 0.5, 0.8, 20)
	f.Add(1, 0.01, 0.01, 3)
	f.Add(0, 0.0, 0.0, 200)
	f.Fuzz(func(t *testing.T, capacity int, sh, def float64, n int) {
		cfg := Config{Capacity: capacity % 10000, SheddableShare: sh, DefaultShare: def}
		s, err := New(cfg)
		if err != nil {
			return
		}
		ls, ld, lc := s.Limit(Sheddable), s.Limit(Default), s.Limit(Critical)
		if !(1 <= ls && ls <= ld && ld <= lc && lc == s.Capacity()) {
			t.Fatalf("%+v: limits %d, %d, %d not ordered within capacity %d", cfg, ls, ld, lc, s.Capacity())
		}
		ctx := context.Background()
		for i := 0; i < n%500; i++ {
			c := Criticality(i%3 - 1)
			before := s.InFlight()
			_, err := s.AdmitClass(ctx, c)
			if (err == nil) != (before < s.Limit(c)) {
				t.Fatalf("%+v: class %v at %d in flight: admitted %v, limit %d", cfg, c, before, err == nil, s.Limit(c))
			}
		}
	})
}
