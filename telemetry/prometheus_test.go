package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/fallback"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/telemetry"
	"github.com/keelhq/keel/timeout"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

var update = flag.Bool("update", false, "rewrite testdata/scrape.txt")

const scrapeFile = "testdata/scrape.txt"

// scrapeWorkload runs a realistic workload through fallback, retry, breaker,
// bulkhead and timeout, all observed by one Metrics exported to Prometheus,
// then HTTP requests measured by HTTPClient and HTTPServer, and returns a
// scrape of the handler.
func scrapeWorkload(t *testing.T) []byte {
	t.Helper()
	var scrape []byte
	synctest.Test(t, func(t *testing.T) {
		prom := telemetry.MustNewPrometheus(telemetry.PrometheusConfig{
			Resource: resource.NewSchemaless(attribute.String("service.name", "checkout")),
		})
		defer func() { _ = prom.Shutdown(context.Background()) }()
		m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: prom.MeterProvider(), Histograms: prom.Histograms()})

		fb := fallback.MustNew(fallback.Config{Name: "inventory", Observer: m,
			Func: func(context.Context, error) error { return nil }})
		rt := retry.MustNew(retry.Config{Name: "inventory", MaxAttempts: 3, Observer: m,
			Backoff: backoff.Constant(5 * time.Millisecond)})
		br := breaker.MustNew(breaker.Config{Name: "inventory", Observer: m, WindowSize: 20, MinimumCalls: 10,
			OpenDuration: 50 * time.Millisecond})
		bh := bulkhead.MustNew(bulkhead.Config{Name: "inventory", Observer: m, MaxConcurrent: 4, MaxQueue: 2,
			MaxWait: 20 * time.Millisecond})
		to := timeout.MustNew(timeout.Config{Name: "inventory", Observer: m, Timeout: 40 * time.Millisecond})
		m.RegisterBreaker(br)
		m.RegisterBulkhead("inventory", bh)
		chain := keel.Chain(fb, rt, br, bh, to)

		// Eight clients, 40 calls each. The dependency is slow now and then
		// and fails for a stretch in the middle, so the breaker opens.
		errDown := errors.New("inventory: 503")
		var wg sync.WaitGroup
		for c := range 8 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c), 7))
				for i := range 40 {
					d := time.Duration(1+rng.IntN(10)) * time.Millisecond
					if rng.IntN(10) == 0 {
						d = 60 * time.Millisecond // runs into the timeout
					}
					failing := i >= 15 && i < 25 || rng.IntN(8) == 0
					_ = chain.Do(context.Background(), func(ctx context.Context) error {
						tm := time.NewTimer(d)
						defer tm.Stop()
						select {
						case <-tm.C:
						case <-ctx.Done():
							return ctx.Err()
						}
						if failing {
							return errDown
						}
						return nil
					})
					time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		// A return-on-time timeout abandoning an operation that ignores its
		// context, and the operation exiting later.
		m.Observe(context.Background(), keel.Event{Kind: keel.EventAbandoned, Policy: "timeout", Name: "inventory", Duration: 40 * time.Millisecond})
		m.Observe(context.Background(), keel.Event{Kind: keel.EventAbandonedExit, Policy: "timeout", Name: "inventory", Duration: 90 * time.Millisecond})
		overloadScrapeWorkload(t, m)
		// HTTP requests through keelhttp with HTTPClient and HTTPServer.
		httpScrapeWorkload(t, prom)

		rec := httptest.NewRecorder()
		prom.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics: got status %d, want 200", rec.Code)
		}
		scrape = rec.Body.Bytes()
	})
	return scrape
}

// families parses a text scrape into metric name → type.
func families(t *testing.T, scrape []byte) map[string]string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(scrape))
	if err != nil {
		t.Fatalf("parsing scrape: %v", err)
	}
	out := make(map[string]string, len(mfs))
	for name, mf := range mfs {
		out[name] = mf.GetType().String()
	}
	return out
}

func TestPrometheusScrape(t *testing.T) {
	scrape := scrapeWorkload(t)
	if *update {
		if err := os.WriteFile(scrapeFile, scrape, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(scrapeFile)
	if err != nil {
		t.Fatalf("reading golden scrape (run with -update to create it): %v", err)
	}
	want, got := families(t, golden), families(t, scrape)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric families (-%s +scrape):\n%s", scrapeFile, diff)
	}
	// Every family of the documented set is there, with its type.
	documented := map[string]string{
		"keel_call_duration_seconds":     "HISTOGRAM",
		"keel_attempt_duration_seconds":  "HISTOGRAM",
		"keel_wait_duration_seconds":     "HISTOGRAM",
		"keel_rejections_total":          "COUNTER",
		"keel_retries_total":             "COUNTER",
		"keel_retry_exhausted_total":     "COUNTER",
		"keel_fallbacks_total":           "COUNTER",
		"keel_timeouts_total":            "COUNTER",
		"keel_breaker_transitions_total": "COUNTER",
		"keel_breaker_state":             "GAUGE",
		"keel_bulkhead_in_flight":        "GAUGE",
		"keel_bulkhead_queued":           "GAUGE",
		"target_info":                    "GAUGE",

		"http_client_request_duration_seconds": "HISTOGRAM",
		"http_server_request_duration_seconds": "HISTOGRAM",
	}
	var missing []string
	for name, typ := range documented {
		if got[name] != typ {
			missing = append(missing, name+" "+typ+" (got "+got[name]+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("scrape lacks documented families: %v", missing)
	}
}

// TestPromtool runs promtool check metrics on a fresh scrape and on the
// golden file, if promtool is installed (Debian package prometheus).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not on PATH; CI installs it with the Debian package prometheus")
		}
		t.Skip("promtool not on PATH (install the Debian package prometheus)")
	}
	live := filepath.Join(t.TempDir(), "scrape.txt")
	if err := os.WriteFile(live, scrapeWorkload(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{live, scrapeFile} {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
		cmd.Stdin = in
		out, err := cmd.CombinedOutput()
		_ = in.Close()
		if err != nil {
			t.Errorf("promtool check metrics < %s: %v\n%s", f, err, out)
		}
	}
}
