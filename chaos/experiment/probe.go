package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/keelhq/keel/internal/quantile"
	"io"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// window is the load results that ended in [from, to).
type window struct {
	requests int
	ok       int
	latency  []time.Duration // sorted
}

func windowOf(results []result, from, to time.Time) window {
	var w window
	for i := range results {
		r := &results[i]
		if r.done.Before(from) || !r.done.Before(to) {
			continue
		}
		w.requests++
		if r.ok {
			w.ok++
		}
		w.latency = append(w.latency, r.latency)
	}
	slices.Sort(w.latency)
	return w
}

// seriesOf buckets results by the second they were sent in, counted from
// origin, up to end.
func seriesOf(results []result, origin, end time.Time) []Second {
	if len(results) == 0 || !end.After(origin) {
		return []Second{}
	}
	n := int(math.Ceil(end.Sub(origin).Seconds()))
	lat := make([][]time.Duration, n)
	out := make([]Second, n)
	for i := range out {
		out[i].Time = origin.Add(time.Duration(i) * time.Second)
	}
	for i := range results {
		r := &results[i]
		k := int(r.sent.Sub(origin) / time.Second)
		if k < 0 || k >= n {
			continue
		}
		out[k].Requests++
		if !r.ok {
			out[k].Errors++
		}
		lat[k] = append(lat[k], r.latency)
	}
	for i := range out {
		slices.Sort(lat[i])
		out[i].P50MS = ms(quantile.Of(lat[i], 0.50))
		out[i].P99MS = ms(quantile.Of(lat[i], 0.99))
	}
	return out
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// evalLoadProbe evaluates a success_rate or latency probe over w.
func evalLoadProbe(p *Probe, w window) ProbeRecord {
	rec := ProbeRecord{Probe: p.Name, Type: p.Type}
	switch p.Type {
	case ProbeSuccessRate:
		rec.Unit = "%"
		rec.Threshold = ">= " + p.Min.String()
		if w.requests == 0 {
			rec.Detail = "no load request ended in the window"
			return rec
		}
		rate := 100 * float64(w.ok) / float64(w.requests)
		rec.Value = math.Round(rate*1000) / 1000
		rec.OK = rate >= float64(p.Min)
		rec.Detail = fmt.Sprintf("%d of %d requests succeeded", w.ok, w.requests)
	case ProbeLatency:
		pc := or(p.Percentile, DefaultPercentile)
		rec.Unit = "ms"
		rec.Threshold = fmt.Sprintf("p%s <= %v", strings.TrimSuffix(pc.String(), "%"), p.Max)
		if w.requests == 0 {
			rec.Detail = "no load request ended in the window"
			return rec
		}
		v := quantile.Of(w.latency, float64(pc)/100)
		rec.Value = ms(v)
		rec.OK = v <= time.Duration(p.Max)
		rec.Detail = fmt.Sprintf("p%s of %d requests: %v", strings.TrimSuffix(pc.String(), "%"), w.requests, v.Round(time.Microsecond))
	}
	return rec
}

// maxBody bounds the bodies read by probes and steps.
const maxBody = 1 << 20

// evalHTTPProbe sends the probe's request and checks the answer.
func evalHTTPProbe(ctx context.Context, c *http.Client, p *Probe) ProbeRecord {
	rec := ProbeRecord{Probe: p.Name, Type: p.Type, Unit: "status"}
	rec.Threshold = "status 2xx"
	if p.ExpectStatus != 0 {
		rec.Threshold = "status " + strconv.Itoa(p.ExpectStatus)
	}
	if p.ExpectBodyContains != "" {
		rec.Threshold += fmt.Sprintf(", body contains %q", p.ExpectBodyContains)
	}
	if p.ExpectJSON != nil {
		want, _ := json.Marshal(p.ExpectJSON.Equals)
		rec.Threshold += fmt.Sprintf(", %s == %s", p.ExpectJSON.Path, want)
	}
	status, body, err := send(ctx, c, &p.Request, "")
	rec.Value = float64(status)
	if err != nil {
		rec.Detail = err.Error()
		return rec
	}
	rec.OK, rec.Detail = checkAnswer(p, status, body)
	return rec
}

// checkAnswer reports whether an answer matches the probe's expectations,
// and if not, why.
func checkAnswer(p *Probe, status int, body []byte) (bool, string) {
	if p.ExpectStatus != 0 && status != p.ExpectStatus || p.ExpectStatus == 0 && status/100 != 2 {
		return false, fmt.Sprintf("status %d; body: %s", status, abbrev(body))
	}
	if p.ExpectBodyContains != "" && !bytes.Contains(body, []byte(p.ExpectBodyContains)) {
		return false, fmt.Sprintf("body does not contain %q: %s", p.ExpectBodyContains, abbrev(body))
	}
	if e := p.ExpectJSON; e != nil {
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return false, fmt.Sprintf("body is not JSON (%v): %s", err, abbrev(body))
		}
		got, ok := jsonPath(doc, e.Path)
		if !ok {
			return false, fmt.Sprintf("no value at %s: %s", e.Path, abbrev(body))
		}
		if !jsonEqual(got, e.Equals) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(e.Equals)
			return false, fmt.Sprintf("%s is %s, want %s", e.Path, g, w)
		}
	}
	return true, fmt.Sprintf("status %d", status)
}

// jsonPath returns the value at a dotted path in a decoded JSON document.
func jsonPath(doc any, path string) (any, bool) {
	cur := doc
	for part := range strings.SplitSeq(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// jsonEqual compares two values as JSON: both are encoded and decoded again,
// so that 1 and 1.0, or map types from different decoders, compare equal.
func jsonEqual(a, b any) bool {
	norm := func(v any) (any, bool) {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, false
		}
		var out any
		return out, json.Unmarshal(data, &out) == nil
	}
	na, ok1 := norm(a)
	nb, ok2 := norm(b)
	return ok1 && ok2 && reflect.DeepEqual(na, nb)
}

func abbrev(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// send sends r and returns the status and body. token, when set, goes in
// Authorization as a bearer token.
func send(ctx context.Context, c *http.Client, r *Request, token string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(or(r.Timeout, DefaultHTTPTimeout)))
	defer cancel()
	method := r.Method
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
		method = or(method, http.MethodPost)
	}
	req, err := http.NewRequestWithContext(ctx, or(method, http.MethodGet), r.URL, body)
	if err != nil {
		return 0, nil, err
	}
	for _, k := range sortedKeys(r.Headers) {
		req.Header.Set(k, r.Headers[k])
	}
	if r.Body != "" && req.Header.Get("Content-Type") == "" && json.Valid([]byte(r.Body)) {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, data, err
}
