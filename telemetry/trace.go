package telemetry

import (
	"context"
	"errors"
	"fmt"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// attrErrorType is the semantic conventions' error.type: the Go type of the
// error that failed the call, such as "*retry.ExhaustedError".
const attrErrorType attribute.Key = "error.type"

// DefaultSpanName is the span name [Tracing] uses when TracingConfig.Name is
// empty.
const DefaultSpanName = "keel.call"

// TracingConfig configures [Tracing]. The zero value is ready to use.
type TracingConfig struct {
	// Name is the name of every span, such as "payments.charge". Keep it
	// fixed per call site: span names are grouped on. Empty means
	// DefaultSpanName.
	Name string
	// TracerProvider provides the tracer. Nil means otel.GetTracerProvider(),
	// the global provider (a no-op one until the program sets another).
	TracerProvider trace.TracerProvider
	// Classifier decides the span status from the call's error: failure and
	// permanent outcomes set codes.Error, success and neutral outcomes leave
	// the status unset. Nil means keel.DefaultClassifier.
	Classifier keel.Classifier
	// Attributes are set on every span when it starts.
	Attributes []attribute.KeyValue
	// Kind is the span kind. Zero (trace.SpanKindUnspecified) means
	// trace.SpanKindInternal.
	Kind trace.SpanKind
}

// Validate reports the first problem with c. Every TracingConfig is valid
// today; Validate exists so that configuration code can treat all configs
// alike.
func (c *TracingConfig) Validate() error { return nil }

// Tracing starts one span per call and annotates spans with events.
//
// As a keel.Policy, placed outermost in a chain (keel.Chain(tr, rt, br, …)),
// it starts a span named TracingConfig.Name around the whole call: retries,
// waits and fallbacks all fall inside it. The span records a returned error
// and gets status Error and the attribute error.type (the error's Go type)
// for failure and permanent outcomes. A panic in the
// call sets status Error, ends the span and continues.
//
// As a keel.Observer (give it to the policies' Config.Observer, alone or with
// keel.Observers), it adds a span event to the recording span of the event's
// context for each attempt, retry, rejection, exhaustion, timeout, fallback,
// breaker transition, and bulkhead wait that was not zero; see the package
// documentation for their names and attributes. Events whose context carries
// no recording span are ignored, so the observer costs one context lookup
// when tracing is off.
//
// Use [NewTracing]; the zero Tracing is not usable. A Tracing is immutable
// and safe for concurrent use.
type Tracing struct {
	tracer     trace.Tracer
	name       string
	classifier keel.Classifier
	startOpts  []trace.SpanStartOption
}

var (
	_ keel.Policy   = (*Tracing)(nil)
	_ keel.Executor = (*Tracing)(nil)
	_ keel.Observer = (*Tracing)(nil)
)

// NewTracing returns a Tracing configured by cfg, or the error of
// cfg.Validate.
func NewTracing(cfg TracingConfig) (*Tracing, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Tracing{
		tracer:     tp.Tracer(ScopeName),
		name:       cfg.Name,
		classifier: cfg.Classifier,
	}
	if t.name == "" {
		t.name = DefaultSpanName
	}
	if t.classifier == nil {
		t.classifier = keel.DefaultClassifier
	}
	kind := cfg.Kind
	if kind == trace.SpanKindUnspecified {
		kind = trace.SpanKindInternal
	}
	t.startOpts = []trace.SpanStartOption{trace.WithSpanKind(kind)}
	if len(cfg.Attributes) > 0 {
		t.startOpts = append(t.startOpts, trace.WithAttributes(cfg.Attributes...))
	}
	return t, nil
}

// MustNewTracing is like [NewTracing] but panics on error.
func MustNewTracing(cfg TracingConfig) *Tracing {
	t, err := NewTracing(cfg)
	if err != nil {
		panic(err)
	}
	return t
}

// Do runs op inside a span, as Wrap does.
func (t *Tracing) Do(ctx context.Context, op func(context.Context) error) error {
	return t.run(ctx, nil, op)
}

// Wrap returns a Handler that runs next inside a span.
func (t *Tracing) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return t.run(ctx, next, op)
	}
}

func (t *Tracing) run(ctx context.Context, next keel.Handler, op func(context.Context) error) (err error) {
	ctx, span := t.tracer.Start(ctx, t.name, t.startOpts...)
	finished := false
	defer func() {
		if !finished {
			span.SetStatus(codes.Error, "panic")
			span.SetAttributes(AttrOutcome.String(keel.OutcomeFailure.String()))
		}
		span.End()
	}()
	if next != nil {
		err = next(ctx, op)
	} else {
		err = op(ctx)
	}
	finished = true
	if err == nil || !span.IsRecording() {
		return err
	}
	o := t.classifier.Classify(ctx, err)
	span.RecordError(err)
	span.SetAttributes(AttrOutcome.String(o.String()))
	if o != keel.OutcomeSuccess && o != keel.OutcomeNeutral {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attrErrorType.String(fmt.Sprintf("%T", err)))
	}
	return err
}

// Observe adds a span event for e to the recording span of ctx, if any.
func (t *Tracing) Observe(ctx context.Context, e keel.Event) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, AttrPolicy.String(e.Policy), AttrName.String(e.Name))
	switch e.Kind {
	case keel.EventAttempt:
		attrs = append(attrs, AttrAttempt.Int(e.Attempt), AttrOutcome.String(e.Outcome.String()),
			AttrDuration.Float64(e.Duration.Seconds()))
		attrs = appendRejection(attrs, e.Err)
	case keel.EventRetry:
		attrs = append(attrs, AttrAttempt.Int(e.Attempt), AttrDelay.Float64(e.Delay.Seconds()))
	case keel.EventRejected:
		attrs = append(attrs, AttrReason.String(e.Reason.String()))
		if e.Attempt > 0 {
			attrs = append(attrs, AttrAttempt.Int(e.Attempt))
		}
	case keel.EventExhausted:
		attrs = append(attrs, AttrAttempt.Int(e.Attempt), AttrReason.String(e.Reason.String()))
	case keel.EventStateChange:
		attrs = append(attrs, AttrFrom.String(e.From), AttrTo.String(e.To))
	case keel.EventTimeout, keel.EventAbandoned, keel.EventAbandonedExit:
		attrs = append(attrs, AttrDuration.Float64(e.Duration.Seconds()))
	case keel.EventFallback, keel.EventReplayed:
	case keel.EventTakeover:
		attrs = append(attrs, AttrAttempt.Int(e.Attempt))
	case keel.EventLeaseLost:
		if e.Duration > 0 {
			attrs = append(attrs, AttrDuration.Float64(e.Duration.Seconds()))
		}
	case keel.EventAcquired:
		if e.Duration <= 0 {
			return
		}
		attrs = append(attrs, AttrDuration.Float64(e.Duration.Seconds()))
	default:
		return
	}
	if e.Err != nil {
		attrs = append(attrs, AttrError.String(e.Err.Error()))
	}
	opts := []trace.EventOption{trace.WithAttributes(attrs...)}
	if !e.Time.IsZero() {
		opts = append(opts, trace.WithTimestamp(e.Time))
	}
	span.AddEvent(spanEventName(e.Kind), opts...)
}

// spanEventName returns "keel." followed by the kind: "keel.attempt",
// "keel.retry", "keel.rejected", …
func spanEventName(k keel.EventKind) string {
	if int(k) < len(spanEventNames) && spanEventNames[k] != "" {
		return spanEventNames[k]
	}
	return "keel." + k.String()
}

var spanEventNames = kindNames("keel.")

// kindNames returns prefix followed by the name of each event kind keel
// knows, indexed by kind, so that logging or tracing an event builds no
// string. It stops at the first kind keel calls "unknown", so kinds added to
// keel are named without a change here.
func kindNames(prefix string) []string {
	names := []string{""}
	for k := keel.EventSuccess; k != 0 && k.String() != "unknown"; k++ {
		names = append(names, prefix+k.String())
	}
	return names
}

// appendRejection adds the reason, and for a breaker its state, when err is a
// rejection by a breaker or bulkhead.
func appendRejection(attrs []attribute.KeyValue, err error) []attribute.KeyValue {
	if err == nil || !errors.Is(err, keel.ErrRejected) {
		return attrs
	}
	if oe, ok := errors.AsType[*breaker.OpenError](err); ok {
		reason := keel.ReasonCircuitOpen
		if oe.State == breaker.HalfOpen {
			reason = keel.ReasonHalfOpenFull
		}
		return append(attrs, AttrReason.String(reason.String()), AttrState.String(oe.State.String()))
	}
	if re, ok := errors.AsType[*bulkhead.RejectedError](err); ok {
		return append(attrs, AttrReason.String(re.Reason.String()))
	}
	return attrs
}
