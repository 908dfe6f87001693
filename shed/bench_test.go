package shed

import (
	"context"
	"testing"
)

func BenchmarkAdmitDone(b *testing.B) {
	s := MustNew(Config{})
	ctx := WithCriticality(context.Background(), Critical)
	b.ReportAllocs()
	for b.Loop() {
		t, err := s.Admit(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t.Done()
	}
}

func BenchmarkDo(b *testing.B) {
	s := MustNew(Config{})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Do(ctx, op)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	s := MustNew(Config{Capacity: 1 << 20})
	ctx := WithCriticality(context.Background(), Sheddable)
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = s.Do(ctx, op)
		}
	})
}

func BenchmarkRejectParallel(b *testing.B) {
	s := MustNew(Config{Capacity: 1})
	held, _ := s.AdmitClass(context.Background(), Critical)
	defer held.Done()
	ctx := WithCriticality(context.Background(), Sheddable)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = s.Admit(ctx)
		}
	})
}
