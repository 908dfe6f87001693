package flags_test

import (
	"context"
	"testing"

	"github.com/keelhq/keel/flags"
)

func benchSet(b *testing.B) *flags.Set {
	b.Helper()
	fs := []flags.Flag{{Name: "all", Enabled: true}, {Name: "some", Enabled: true, Percent: 0.3}}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		fs = append(fs, flags.Flag{Name: "filler." + n})
	}
	s, err := flags.NewSet(fs...)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

var sink bool

func BenchmarkEnabled(b *testing.B) {
	s := benchSet(b)
	b.ReportAllocs()
	for b.Loop() {
		sink = s.Enabled("all")
	}
}

func BenchmarkEnabledPercent(b *testing.B) {
	s := benchSet(b)
	b.ReportAllocs()
	for b.Loop() {
		sink = s.Enabled("some")
	}
}

func BenchmarkEnabledFor(b *testing.B) {
	s := benchSet(b)
	b.ReportAllocs()
	for b.Loop() {
		sink = s.EnabledFor("some", "user-1234567")
	}
}

func BenchmarkEnabledParallel(b *testing.B) {
	s := benchSet(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := false
		for pb.Next() {
			v = s.EnabledFor("some", "user-1234567") != s.Enabled("some")
		}
		_ = v
	})
}

// BenchmarkEnabledParallelWithWriter: readers while a writer replaces the
// set as fast as it can.
func BenchmarkEnabledParallelWithWriter(b *testing.B) {
	s := benchSet(b)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		f := flags.Flag{Name: "all", Enabled: true}
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.Enabled = !f.Enabled
			_ = s.Set(f)
		}
	}()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := false
		for pb.Next() {
			v = s.Enabled("all")
		}
		_ = v
	})
	b.StopTimer()
	close(stop)
	<-done
}

func BenchmarkGateDo(b *testing.B) {
	s := benchSet(b)
	g := s.Gate("all")
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Do(ctx, op)
	}
}

func BenchmarkSet(b *testing.B) {
	s := benchSet(b)
	f := flags.Flag{Name: "all", Enabled: true}
	b.ReportAllocs()
	for b.Loop() {
		f.Enabled = !f.Enabled
		_ = s.Set(f)
	}
}
