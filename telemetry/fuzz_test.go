package telemetry_test

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/telemetry"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// FuzzHistograms checks bucket bounds and in-process histograms against a
// model: Validate accepts exactly the finite, positive, strictly increasing
// bounds, and every duration lands in the first bucket whose bound (rounded
// to the nanosecond) is not below it, with Count and Sum to match.
func FuzzHistograms(f *testing.F) {
	f.Add([]byte{}, uint64(1))
	f.Add(binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.001)), uint64(2))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5)), math.Float64bits(0.25)), uint64(3))
	f.Add(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())), uint64(4))
	f.Fuzz(func(t *testing.T, raw []byte, seed uint64) {
		var bounds []float64
		for len(raw) >= 8 && len(bounds) < 32 {
			bounds = append(bounds, math.Float64frombits(binary.LittleEndian.Uint64(raw)))
			raw = raw[8:]
		}
		cfg := telemetry.MetricsConfig{Buckets: bounds}
		valid := true
		for i, b := range bounds {
			if math.IsNaN(b) || math.IsInf(b, 0) || b <= 0 || i > 0 && b <= bounds[i-1] {
				valid = false
			}
		}
		if err := cfg.Validate(); (err == nil) != valid {
			t.Fatalf("Validate(%v): got %v, want valid=%v", bounds, err, valid)
		}
		if !valid || len(bounds) == 0 {
			return
		}
		// Beyond 2^53 ns (104 days) float64 no longer holds every
		// nanosecond, and the model's comparison would round.
		if bounds[len(bounds)-1] > 1e6 {
			return
		}

		// The counters go to the global no-op provider; only the
		// histograms matter here.
		cfg.Histograms = telemetry.NewHistograms()
		m := telemetry.MustNewMetrics(cfg)
		rng := rand.New(rand.NewPCG(seed, seed))
		want := make([]uint64, len(bounds)+1)
		var sum time.Duration
		n := 1 + rng.IntN(50)
		for range n {
			var d time.Duration
			if b := bounds[rng.IntN(len(bounds))]; rng.IntN(2) == 0 {
				d = time.Duration(math.Round(b*1e9)) + time.Duration(rng.IntN(3)-1) // at a bound, or 1 ns off it
			} else {
				d = time.Duration(rng.Int64N(int64(2*bounds[len(bounds)-1]*1e9) + 1))
			}
			d = max(d, 0)
			i := 0
			for i < len(bounds) && float64(d) > math.Round(bounds[i]*1e9) {
				i++
			}
			want[i]++
			sum += d
			m.Observe(context.Background(), keel.Event{Kind: keel.EventSuccess, Policy: "p", Duration: d})
		}
		sms, err := cfg.Histograms.Produce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dp := sms[0].Metrics[0].Data.(metricdata.Histogram[float64]).DataPoints[0]
		if diff := cmp.Diff(want, dp.BucketCounts); diff != "" {
			t.Errorf("bounds %v: bucket counts (-want +got):\n%s", bounds, diff)
		}
		if dp.Count != uint64(n) || math.Abs(dp.Sum-sum.Seconds()) > 1e-9*math.Max(1, sum.Seconds()) {
			t.Errorf("count %d sum %v, want %d %v", dp.Count, dp.Sum, n, sum.Seconds())
		}
	})
}

// With the default bounds, in-process histograms put every duration in the
// same bucket as the SDK's histograms, including durations exactly at a
// bound.
func TestHistogramsMatchSDK(t *testing.T) {
	sdk, rs := newMetricsMode(t, false)
	local, rl := newMetricsMode(t, true)
	rng := rand.New(rand.NewPCG(1, 2))
	var ds []time.Duration
	for _, b := range telemetry.DefaultBuckets {
		ns := time.Duration(math.Round(b * 1e9))
		ds = append(ds, ns-1, ns, ns+1)
	}
	for range 1000 {
		ds = append(ds, time.Duration(rng.Int64N(int64(40*time.Second))))
	}
	for _, d := range ds {
		e := keel.Event{Kind: keel.EventSuccess, Policy: "p", Duration: d}
		sdk.Observe(context.Background(), e)
		local.Observe(context.Background(), e)
	}
	get := func(r interface {
		Collect(context.Context, *metricdata.ResourceMetrics) error
	}) metricdata.HistogramDataPoint[float64] {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == telemetry.MetricCallDuration {
					return m.Data.(metricdata.Histogram[float64]).DataPoints[0]
				}
			}
		}
		t.Fatal("no call duration histogram")
		return metricdata.HistogramDataPoint[float64]{}
	}
	want, got := get(rs), get(rl)
	if diff := cmp.Diff(want.BucketCounts, got.BucketCounts); diff != "" || want.Count != got.Count {
		t.Errorf("count sdk %d local %d; bucket counts (-sdk +local):\n%s", want.Count, got.Count, diff)
	}
	if math.Abs(want.Sum-got.Sum) > 1e-6 {
		t.Errorf("sum: sdk %v, local %v", want.Sum, got.Sum)
	}
}
