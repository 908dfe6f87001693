package experiment

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWindowAndSeries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sent, took time.Duration, ok bool) result {
		return result{sent: t0.Add(sent), done: t0.Add(sent + took), latency: took, ok: ok}
	}
	results := []result{
		at(100*time.Millisecond, 10*time.Millisecond, true),
		at(900*time.Millisecond, 200*time.Millisecond, true), // sent in second 0, done in second 1
		at(1200*time.Millisecond, 50*time.Millisecond, false),
		at(1500*time.Millisecond, 30*time.Millisecond, true),
		at(2100*time.Millisecond, 5*time.Millisecond, true),
	}
	w := windowOf(results, t0.Add(time.Second), t0.Add(2*time.Second))
	if w.requests != 3 || w.ok != 2 {
		t.Errorf("window [1s, 2s): %d requests, %d ok; want 3, 2 (by the time they ended)", w.requests, w.ok)
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}, w.latency); diff != "" {
		t.Errorf("window latencies (-want +got):\n%s", diff)
	}
	got := seriesOf(results, t0, t0.Add(2500*time.Millisecond))
	want := []Second{
		{Time: t0, Requests: 2, Errors: 0, P50MS: 10, P99MS: 200},
		{Time: t0.Add(time.Second), Requests: 2, Errors: 1, P50MS: 30, P99MS: 50},
		{Time: t0.Add(2 * time.Second), Requests: 1, Errors: 0, P50MS: 5, P99MS: 5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series by the second they were sent (-want +got):\n%s", diff)
	}
}

func TestEvalLoadProbe(t *testing.T) {
	w := window{requests: 200, ok: 198, latency: make([]time.Duration, 200)}
	for i := range w.latency {
		w.latency[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		probe Probe
		w     window
		value float64
		ok    bool
	}{
		{Probe{Type: ProbeSuccessRate, Min: 99}, w, 99, true},
		{Probe{Type: ProbeSuccessRate, Min: 99.5}, w, 99, false},
		{Probe{Type: ProbeSuccessRate, Min: 1}, window{}, 0, false}, // no data never holds
		{Probe{Type: ProbeLatency, Max: Duration(198 * time.Millisecond)}, w, 198, true},
		{Probe{Type: ProbeLatency, Max: Duration(197 * time.Millisecond)}, w, 198, false},
		{Probe{Type: ProbeLatency, Percentile: 50, Max: Duration(100 * time.Millisecond)}, w, 100, true},
		{Probe{Type: ProbeLatency, Max: Duration(time.Second)}, window{}, 0, false},
	} {
		got := evalLoadProbe(&tc.probe, tc.w)
		if got.Value != tc.value || got.OK != tc.ok {
			t.Errorf("%s min %v max %v p%v over %d requests: value %v ok %t, want %v %t (%s)",
				tc.probe.Type, tc.probe.Min, tc.probe.Max, tc.probe.Percentile, tc.w.requests, got.Value, got.OK, tc.value, tc.ok, got.Detail)
		}
	}
}

func TestCheckAnswer(t *testing.T) {
	body := []byte(`{"ledger": {"dupes": 0, "total": 12.0}, "items": [{"id": "a"}, {"id": "b"}], "ok": true}`)
	for _, tc := range []struct {
		name   string
		probe  Probe
		status int
		body   []byte
		ok     bool
		detail string
	}{
		{"any 2xx", Probe{}, 204, nil, true, "status 204"},
		{"not 2xx", Probe{}, 503, []byte("down"), false, "status 503; body: down"},
		{"exact status", Probe{ExpectStatus: 404}, 404, nil, true, "status 404"},
		{"wrong status", Probe{ExpectStatus: 200}, 201, nil, false, "status 201; body: "},
		{"contains", Probe{ExpectBodyContains: `"dupes": 0`}, 200, body, true, "status 200"},
		{"does not contain", Probe{ExpectBodyContains: "nope"}, 200, []byte("yes"), false, `body does not contain "nope": yes`},
		{"json int", Probe{ExpectJSON: &JSONExpect{Path: "ledger.dupes", Equals: 0}}, 200, body, true, "status 200"},
		{"json int as float", Probe{ExpectJSON: &JSONExpect{Path: "ledger.total", Equals: 12}}, 200, body, true, "status 200"},
		{"json index", Probe{ExpectJSON: &JSONExpect{Path: "items.1.id", Equals: "b"}}, 200, body, true, "status 200"},
		{"json bool", Probe{ExpectJSON: &JSONExpect{Path: "ok", Equals: true}}, 200, body, true, "status 200"},
		{"json differs", Probe{ExpectJSON: &JSONExpect{Path: "ledger.dupes", Equals: 1}}, 200, body, false, "ledger.dupes is 0, want 1"},
		{"json missing", Probe{ExpectJSON: &JSONExpect{Path: "items.7.id", Equals: "x"}}, 200, body, false, "no value at items.7.id: " + string(body)},
		{"not json", Probe{ExpectJSON: &JSONExpect{Path: "a", Equals: 1}}, 200, []byte("<html>"), false,
			"body is not JSON (invalid character '<' looking for beginning of value): <html>"},
	} {
		ok, detail := checkAnswer(&tc.probe, tc.status, tc.body)
		if ok != tc.ok || detail != tc.detail {
			t.Errorf("%s: ok %t %q, want %t %q", tc.name, ok, detail, tc.ok, tc.detail)
		}
	}
}

func TestValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Percent
		err  bool
	}{
		{"99%", 99, false}, {"99.5%", 99.5, false}, {" 50 ", 50, false}, {"0%", 0, false},
		{"", 0, true}, {"%", 0, true}, {"ninety", 0, true}, {"9 9%", 0, true},
	} {
		var p Percent
		err := p.UnmarshalText([]byte(tc.in))
		if (err != nil) != tc.err || p != tc.want {
			t.Errorf("Percent(%q) = %v, %v; want %v, error %t", tc.in, p, err, tc.want, tc.err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d != Duration(90*time.Second) {
		t.Errorf("Duration(1m30s) = %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("3")); err == nil {
		t.Error("Duration(3): no error; a duration needs a unit")
	}
	if b, _ := Percent(99.5).MarshalText(); string(b) != "99.5%" {
		t.Errorf("Percent(99.5).MarshalText() = %s", b)
	}
}

func FuzzPercent(f *testing.F) {
	for _, s := range []string{"99%", "1e3", "-5%", "NaN", "", "%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p Percent
		if p.UnmarshalText([]byte(s)) != nil {
			return
		}
		b, _ := p.MarshalText()
		var q Percent
		if err := q.UnmarshalText(b); err != nil || (q != p && !math.IsNaN(float64(p))) {
			t.Errorf("%q → %v → %q → %v, %v", s, p, b, q, err)
		}
	})
}
