package experiment

import (
	"io"
	"testing"
	"time"
)

// benchResults is 60 s of load at 1000 requests per second.
func benchResults() ([]result, time.Time) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res := make([]result, 60000)
	for i := range res {
		sent := t0.Add(time.Duration(i) * time.Millisecond)
		lat := time.Duration(i%97) * time.Millisecond
		res[i] = result{sent: sent, done: sent.Add(lat), latency: lat, ok: i%50 != 0}
	}
	return res, t0
}

// BenchmarkProbeWindow measures one evaluation of the load probes over a
// 3 s window of a 60 s run at 1000 requests per second.
func BenchmarkProbeWindow(b *testing.B) {
	res, t0 := benchResults()
	p := &Probe{Name: "p99", Type: ProbeLatency, Max: Duration(time.Second)}
	b.ReportAllocs()
	for b.Loop() {
		w := windowOf(res, t0.Add(30*time.Second), t0.Add(33*time.Second))
		_ = evalLoadProbe(p, w)
	}
}

// BenchmarkReport measures building the journal's series and writing the
// HTML report of a 60 s run.
func BenchmarkReport(b *testing.B) {
	res, t0 := benchResults()
	j := &Journal{Experiment: "bench", Start: t0, End: t0.Add(61 * time.Second), Status: StatusCompleted, Held: true}
	b.ReportAllocs()
	for b.Loop() {
		j.Series = seriesOf(res, t0, j.End)
		if err := j.WriteReport(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
