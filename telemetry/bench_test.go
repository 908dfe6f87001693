package telemetry_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/telemetry"
)

func nop(context.Context) error { return nil }

// BenchmarkBreakerWithTelemetry measures what the metrics observer adds to a
// breaker-guarded call: "off" has no observer; "noop-observer" has one that
// does nothing (what the breaker itself spends on events); "on" records every call with
// in-process histograms (MetricsConfig.Histograms, as Prometheus wires it);
// "on-sdk-histograms" records into the OpenTelemetry SDK's histograms.
// Compare them side by side.
func BenchmarkBreakerWithTelemetry(b *testing.B) {
	ctx := context.Background()
	sdk, _ := newMetricsMode(b, false)
	local, _ := newMetricsMode(b, true)
	for _, bc := range []struct {
		name string
		obs  keel.Observer
	}{
		{"off", nil},
		{"noop-observer", keel.ObserverFunc(func(context.Context, keel.Event) {})},
		{"on", local},
		{"on-sdk-histograms", sdk},
	} {
		br := breaker.MustNew(breaker.Config{Name: "db", Observer: bc.obs})
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = br.Do(ctx, nop)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = br.Do(ctx, nop)
				}
			})
		})
	}
}

// BenchmarkMetricsObserve measures recording one event of each hot kind.
func BenchmarkMetricsObserve(b *testing.B) {
	for _, local := range []bool{true, false} {
		name := "local"
		if !local {
			name = "sdk"
		}
		b.Run(name, func(b *testing.B) { benchObserve(b, local) })
	}
}

func benchObserve(b *testing.B, local bool) {
	ctx := context.Background()
	m, _ := newMetricsMode(b, local)
	for _, e := range []keel.Event{
		{Kind: keel.EventSuccess, Policy: "breaker", Name: "db", Duration: time.Millisecond},
		{Kind: keel.EventRejected, Policy: "breaker", Name: "db", Reason: keel.ReasonCircuitOpen},
		{Kind: keel.EventAcquired, Policy: "bulkhead", Name: "db", InFlight: 3},
	} {
		b.Run(e.Kind.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Observe(ctx, e)
			}
		})
		b.Run(e.Kind.String()+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.Observe(ctx, e)
				}
			})
		})
	}
}

// BenchmarkTracing measures a call through Tracing with a recording SDK
// tracer (spans go to an in-memory exporter, reset as it grows) and with the
// global no-op tracer.
func BenchmarkTracing(b *testing.B) {
	ctx := context.Background()
	tr, exp := newTracing(b, "op")
	noop := telemetry.MustNewTracing(telemetry.TracingConfig{})
	for _, bc := range []struct {
		name string
		t    *telemetry.Tracing
	}{{"sdk", tr}, {"noop", noop}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = bc.t.Do(ctx, nop)
				if i++; i%1024 == 0 {
					exp.Reset()
				}
			}
		})
	}
}

// BenchmarkLogHandler measures adding trace_id and span_id to a record.
func BenchmarkLogHandler(b *testing.B) {
	tr, _ := newTracing(b, "op")
	logger := slog.New(telemetry.NewLogHandler(attrCounter{}))
	_ = tr.Do(context.Background(), func(ctx context.Context) error {
		b.ReportAllocs()
		for b.Loop() {
			logger.InfoContext(ctx, "msg")
		}
		return nil
	})
}

// attrCounter is an enabled handler that only walks the record's attributes.
type attrCounter struct{}

func (attrCounter) Enabled(context.Context, slog.Level) bool { return true }
func (attrCounter) Handle(_ context.Context, r slog.Record) error {
	n := 0
	r.Attrs(func(slog.Attr) bool { n++; return true })
	if n != 2 {
		return errors.New("want trace_id and span_id")
	}
	return nil
}
func (h attrCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h attrCounter) WithGroup(string) slog.Handler      { return h }
