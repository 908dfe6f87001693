package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// PrometheusConfig configures [Prometheus]. The zero value is ready to use.
type PrometheusConfig struct {
	// Registry is the registry the exporter registers with and the handler
	// serves. Nil means a new, empty prometheus.Registry: no global registry
	// is ever touched, so any number of Prometheus values can coexist.
	Registry *prometheus.Registry
	// Resource describes the process; it becomes the target_info series.
	// Nil means resource.Default() (service.name from OTEL_SERVICE_NAME,
	// telemetry SDK attributes).
	Resource *resource.Resource
}

// Validate reports the first problem with c. Every PrometheusConfig is valid
// today.
func (c *PrometheusConfig) Validate() error { return nil }

// Prometheus is an OpenTelemetry MeterProvider whose metrics are served in
// the Prometheus text format: pass [Prometheus.MeterProvider] and
// [Prometheus.Histograms] to MetricsConfig and mount the Prometheus value,
// an http.Handler, on /metrics.
//
// Metric names follow the OpenTelemetry-to-Prometheus translation: dots
// become underscores, the unit is appended ("_seconds"), counters end in
// "_total", and units in braces ({call}) are dropped. Each series carries
// otel_scope_name and otel_scope_version labels.
//
// Use [NewPrometheus]; the zero Prometheus is not usable. A Prometheus is
// safe for concurrent use. It starts no goroutine; Shutdown releases the
// provider.
type Prometheus struct {
	registry   *prometheus.Registry
	histograms *Histograms
	provider   *sdkmetric.MeterProvider
	handler    http.Handler
}

var _ http.Handler = (*Prometheus)(nil)

// NewPrometheus returns a Prometheus configured by cfg, or the error of
// cfg.Validate or of the exporter.
func NewPrometheus(cfg PrometheusConfig) (*Prometheus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	hs := NewHistograms()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithProducer(hs))
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	res := cfg.Resource
	if res == nil {
		res = resource.Default()
	}
	return &Prometheus{
		registry:   reg,
		histograms: hs,
		provider:   sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res)),
		handler:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

// MustNewPrometheus is like [NewPrometheus] but panics on error.
func MustNewPrometheus(cfg PrometheusConfig) *Prometheus {
	p, err := NewPrometheus(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// MeterProvider returns the provider whose instruments the handler serves.
func (p *Prometheus) MeterProvider() *sdkmetric.MeterProvider { return p.provider }

// Histograms returns the in-process histograms the exporter collects; pass
// it to MetricsConfig.Histograms together with MeterProvider for the cheapest
// recording.
func (p *Prometheus) Histograms() *Histograms { return p.histograms }

// Registry returns the registry the handler serves; register other
// collectors (Go runtime, process) with it to serve them too.
func (p *Prometheus) Registry() *prometheus.Registry { return p.registry }

// ServeHTTP writes the current metrics in the Prometheus exposition format
// negotiated with the request.
func (p *Prometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.handler.ServeHTTP(w, r)
}

// Shutdown shuts the meter provider down: later collections and scrapes
// report nothing from it. It honors ctx.
func (p *Prometheus) Shutdown(ctx context.Context) error {
	return p.provider.Shutdown(ctx)
}
