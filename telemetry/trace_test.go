package telemetry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func newTracing(t testing.TB, name string) (*telemetry.Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return telemetry.MustNewTracing(telemetry.TracingConfig{TracerProvider: tp, Name: name}), exp
}

// spanEvent is the part of a span event the tests compare.
type spanEvent struct {
	Name  string
	Attrs map[string]string
}

func eventsNamed(evs []sdktrace.Event, name string) []spanEvent {
	var out []spanEvent
	for _, e := range evs {
		if e.Name != name {
			continue
		}
		attrs := map[string]string{}
		for _, kv := range e.Attributes {
			if kv.Key == telemetry.AttrDuration {
				continue // run time varies
			}
			attrs[string(kv.Key)] = kv.Value.String()
		}
		out = append(out, spanEvent{e.Name, attrs})
	}
	return out
}

// A call retried twice is one span with three attempt events, and the metric
// counters agree.
func TestTracingRetriedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, exp := newTracing(t, "payments.charge")
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
		obs := keel.Observers(tr, m)

		rt := retry.MustNew(retry.Config{Name: "pay", MaxAttempts: 5, Backoff: backoff.Constant(10 * time.Millisecond), Observer: obs})
		br := breaker.MustNew(breaker.Config{Name: "pay", Observer: obs})
		errBoom := errors.New("boom")
		script := keeltest.FailN(2, errBoom)

		err := keel.Chain(tr, rt, br).Do(context.Background(), script.Op)
		if err != nil {
			t.Fatalf("Do: got %v, want nil", err)
		}
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("spans: got %d, want 1", len(spans))
		}
		s := spans[0]
		if s.Name != "payments.charge" || s.Status.Code != codes.Unset {
			t.Errorf("span: got name %q status %v, want %q %v", s.Name, s.Status.Code, "payments.charge", codes.Unset)
		}
		base := func(kv ...string) map[string]string {
			m := map[string]string{"keel.policy": "retry", "keel.name": "pay"}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		}
		wantAttempts := []spanEvent{
			{"keel.attempt", base("keel.attempt", "1", "keel.outcome", "failure", "keel.error", "boom")},
			{"keel.attempt", base("keel.attempt", "2", "keel.outcome", "failure", "keel.error", "boom")},
			{"keel.attempt", base("keel.attempt", "3", "keel.outcome", "success")},
		}
		if diff := cmp.Diff(wantAttempts, eventsNamed(s.Events, "keel.attempt")); diff != "" {
			t.Errorf("attempt events (-want +got):\n%s", diff)
		}
		wantRetries := []spanEvent{
			{"keel.retry", base("keel.attempt", "2", "keel.delay", "0.01", "keel.error", "boom")},
			{"keel.retry", base("keel.attempt", "3", "keel.delay", "0.01", "keel.error", "boom")},
		}
		if diff := cmp.Diff(wantRetries, eventsNamed(s.Events, "keel.retry")); diff != "" {
			t.Errorf("retry events (-want +got):\n%s", diff)
		}

		got := collect(t, reader)
		checks := []struct {
			metric string
			want   map[string]float64
		}{
			{telemetry.MetricRetries, map[string]float64{"keel.name=pay,keel.policy=retry": 2}},
			{telemetry.MetricAttemptDuration, map[string]float64{
				"keel.name=pay,keel.outcome=failure,keel.policy=retry": 2,
				"keel.name=pay,keel.outcome=success,keel.policy=retry": 1,
			}},
			{telemetry.MetricCallDuration, map[string]float64{
				"keel.name=pay,keel.outcome=failure,keel.policy=breaker": 2,
				"keel.name=pay,keel.outcome=success,keel.policy=breaker": 1,
			}},
		}
		for _, c := range checks {
			if diff := cmp.Diff(c.want, points(t, got[c.metric])); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.metric, diff)
			}
		}
	})
}

// An attempt rejected by an open breaker carries the reason and the state.
func TestTracingRejectedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, exp := newTracing(t, "")
		rt := retry.MustNew(retry.Config{MaxAttempts: 2, Backoff: backoff.Constant(time.Millisecond), Observer: tr})
		br := breaker.MustNew(breaker.Config{Name: "db", Observer: tr})
		br.ForceOpen()
		err := keel.Chain(tr, rt, br).Do(context.Background(), func(context.Context) error { return nil })
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("Do: got %v, want breaker.ErrOpen", err)
		}
		s := exp.GetSpans()[0]
		if s.Name != telemetry.DefaultSpanName || s.Status.Code != codes.Error {
			t.Errorf("span: got %q %v, want %q %v", s.Name, s.Status.Code, telemetry.DefaultSpanName, codes.Error)
		}
		for i, e := range eventsNamed(s.Events, "keel.attempt") {
			if e.Attrs["keel.reason"] != "circuit_open" || e.Attrs["keel.state"] != "forced_open" {
				t.Errorf("attempt %d: got reason %q state %q, want circuit_open forced_open", i+1, e.Attrs["keel.reason"], e.Attrs["keel.state"])
			}
		}
		rej := eventsNamed(s.Events, "keel.rejected")
		if len(rej) != 2 || rej[0].Attrs["keel.policy"] != "breaker" || rej[0].Attrs["keel.reason"] != "circuit_open" {
			t.Errorf("rejected events: got %v, want 2 from the breaker with reason circuit_open", rej)
		}
		if n := len(eventsNamed(s.Events, "keel.exhausted")); n != 1 {
			t.Errorf("exhausted events: got %d, want 1", n)
		}
	})
}

func TestTracingStatus(t *testing.T) {
	errBoom := errors.New("boom")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		err         error
		wantCode    codes.Code
		wantOutcome string // keel.outcome attribute, "" for none
		wantRecord  bool   // an exception event
		wantType    string // error.type attribute, "" for none
	}{
		{"success", context.Background(), nil, codes.Unset, "", false, ""},
		{"failure", context.Background(), errBoom, codes.Error, "failure", true, "*errors.errorString"},
		{"permanent", context.Background(), keel.Permanent(errBoom), codes.Error, "permanent", true, "*keel.permanentError"},
		{"neutral", canceled, context.Canceled, codes.Unset, "neutral", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := newTracing(t, "op")
			err := tr.Do(tt.ctx, func(context.Context) error { return tt.err })
			if !errors.Is(err, tt.err) {
				t.Fatalf("Do: got %v, want %v", err, tt.err)
			}
			s := exp.GetSpans()[0]
			gotOutcome := ""
			for _, kv := range s.Attributes {
				if kv.Key == telemetry.AttrOutcome {
					gotOutcome = kv.Value.AsString()
				}
			}
			gotRecord := len(eventsNamed(s.Events, "exception")) == 1
			gotType := ""
			for _, kv := range s.Attributes {
				if kv.Key == "error.type" {
					gotType = kv.Value.AsString()
				}
			}
			if gotType != tt.wantType {
				t.Errorf("error.type: got %q, want %q", gotType, tt.wantType)
			}
			if s.Status.Code != tt.wantCode || gotOutcome != tt.wantOutcome || gotRecord != tt.wantRecord {
				t.Errorf("got status %v outcome %q exception %v, want %v %q %v",
					s.Status.Code, gotOutcome, gotRecord, tt.wantCode, tt.wantOutcome, tt.wantRecord)
			}
		})
	}
}

func TestTracingPanic(t *testing.T) {
	tr, exp := newTracing(t, "op")
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v, want kaboom", r)
			}
		}()
		_ = tr.Do(context.Background(), func(context.Context) error { panic("kaboom") })
	}()
	spans := exp.GetSpans()
	if len(spans) != 1 || !spans[0].EndTime.After(spans[0].StartTime) && spans[0].EndTime.IsZero() {
		t.Fatalf("spans: got %d, want 1 ended span", len(spans))
	}
	if got := spans[0].Status; got.Code != codes.Error || got.Description != "panic" {
		t.Errorf("status: got %v %q, want Error \"panic\"", got.Code, got.Description)
	}
}

func TestTracingAttributesAndNoSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := telemetry.MustNewTracing(telemetry.TracingConfig{
		TracerProvider: tp,
		Attributes:     []attribute.KeyValue{attribute.String("peer.service", "payments")},
	})
	// An event outside any span is ignored.
	tr.Observe(context.Background(), keel.Event{Kind: keel.EventRetry, Attempt: 2})
	if err := tr.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	s := exp.GetSpans()
	if len(s) != 1 {
		t.Fatalf("spans: got %d, want 1", len(s))
	}
	if diff := cmp.Diff([]attribute.KeyValue{attribute.String("peer.service", "payments")}, s[0].Attributes,
		cmp.Comparer(func(a, b attribute.Value) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}

// The idempotency middleware's events become span events named after their
// kind, with their own attributes.
func TestTracingIdempotencyEvents(t *testing.T) {
	tr, exp := newTracing(t, "orders")
	errLost := errors.New("lease lost")
	err := tr.Do(context.Background(), func(ctx context.Context) error {
		tr.Observe(ctx, keel.Event{Kind: keel.EventTakeover, Policy: "idempotency", Name: "orders", Attempt: 2})
		tr.Observe(ctx, keel.Event{Kind: keel.EventLeaseLost, Policy: "idempotency", Name: "orders", Err: errLost})
		tr.Observe(ctx, keel.Event{Kind: keel.EventReplayed, Policy: "idempotency", Name: "orders"})
		tr.Observe(ctx, keel.Event{Kind: keel.EventRejected, Policy: "idempotency", Name: "orders", Reason: keel.ReasonInProgress})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans: got %d, want 1", len(spans))
	}
	var got []spanEvent
	for _, name := range []string{"keel.takeover", "keel.lease_lost", "keel.replayed", "keel.rejected"} {
		got = append(got, eventsNamed(spans[0].Events, name)...)
	}
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{"keel.policy": "idempotency", "keel.name": "orders"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	want := []spanEvent{
		{"keel.takeover", base(map[string]string{"keel.attempt": "2"})},
		{"keel.lease_lost", base(map[string]string{"keel.error": "lease lost"})},
		{"keel.replayed", base(nil)},
		{"keel.rejected", base(map[string]string{"keel.reason": "in_progress"})},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("span events (-want +got):\n%s", diff)
	}
}
