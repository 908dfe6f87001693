package dashboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/keelhq/keel/gateway"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{"zero", Config{}, ""},
		{"all set", Config{Interval: 500 * time.Millisecond, History: time.Hour, Title: "edge-1", MaxStreams: 4}, ""},
		{"interval negative", Config{Interval: -time.Second}, "Interval"},
		{"interval too short", Config{Interval: 10 * time.Millisecond}, "Interval"},
		{"history negative", Config{History: -time.Second}, "History"},
		{"history too long", Config{History: time.Hour + time.Second}, "History"},
		{"history under interval", Config{Interval: 2 * time.Second, History: time.Second}, "shorter than Interval"},
		{"history under default interval", Config{History: 500 * time.Millisecond}, "shorter than Interval"},
		{"streams negative", Config{MaxStreams: -1}, "MaxStreams"},
		{"title too long", Config{Title: strings.Repeat("k", 201)}, "Title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) || (err != nil && !strings.HasPrefix(got, "dashboard: ")) {
				t.Errorf("Validate() = %q, want an error containing %q (none if empty)", got, tt.want)
			}
			if _, nerr := New(newFakeSource(), tt.cfg); (nerr == nil) != (err == nil) {
				t.Errorf("New error %v, Validate error %v: want both or neither", nerr, err)
			}
		})
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil, Config{}) = nil error, want one for the nil Source")
	}
}

// result is a response read whole.
type result struct {
	code   int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, target string, header ...string) result {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return result{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// assetRef matches the page's references to scripts and styles.
var assetRef = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestIndex(t *testing.T) {
	d := MustNew(newFakeSource(), Config{Title: "Keel <edge & 1>"})
	resp := get(t, d, "/")
	page := resp.body
	if resp.code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", resp.code)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-cache",
	} {
		if got := resp.header.Get(k); got != want {
			t.Errorf("GET / %s = %q, want %q", k, got, want)
		}
	}
	if want := "<title>Keel &lt;edge &amp; 1&gt;</title>"; !strings.Contains(page, want) {
		t.Errorf("page has no %s (the title, escaped)", want)
	}

	// Every script and style the page loads is embedded and served here,
	// by a relative URL (so a prefix in front of the dashboard works too).
	var scripts, styles int
	for _, m := range assetRef.FindAllStringSubmatch(page, -1) {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") || strings.HasPrefix(ref, "api/") {
			continue
		}
		if !strings.HasPrefix(ref, "assets/") {
			t.Errorf("page references %q: want a relative assets/ URL", ref)
			continue
		}
		ar := get(t, d, "/"+ref)
		ab := ar.body
		if ar.code != http.StatusOK || len(ab) == 0 {
			t.Errorf("GET /%s = %d with %d bytes, want 200 with content", ref, ar.code, len(ab))
		}
		ct := ar.header.Get("Content-Type")
		switch {
		case strings.Contains(ref, ".js?"):
			scripts++
			if !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("GET /%s Content-Type = %q, want text/javascript", ref, ct)
			}
		case strings.Contains(ref, ".css?"):
			styles++
			if !strings.HasPrefix(ct, "text/css") {
				t.Errorf("GET /%s Content-Type = %q, want text/css", ref, ct)
			}
		}
	}
	if scripts != 2 || styles != 2 {
		t.Errorf("page loads %d scripts and %d styles, want 2 and 2 (uPlot and the app)", scripts, styles)
	}
}

// externalURL matches absolute and scheme-relative URLs to any host.
var externalURL = regexp.MustCompile(`(?i)(?:\b(?:https?|wss?|ftp):)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+`)

// licenseBanner is the comment minified vendor files start with.
var licenseBanner = regexp.MustCompile(`\A/\*![^*]*\*/`)

func TestNoExternalURLs(t *testing.T) {
	files, err := loadStatic()
	if err != nil {
		t.Fatal(err)
	}
	a, err := loadAssets(DefaultTitle)
	if err != nil {
		t.Fatal(err)
	}
	files["index.html (rendered)"] = a.index
	for _, want := range []string{"app.js", "app.css", "vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css", "vendor/uplot/LICENSE"} {
		if _, ok := files[want]; !ok {
			t.Errorf("%s is not embedded", want)
		}
	}
	// The pattern can fail: it finds what it must and skips comments.
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`<script src="https://cdn.example.com/u.js">`, true},
		{`url(//fonts.example.org/a.woff)`, true},
		{`fetch("http://127.0.0.1:9901/x")`, true},
		{`new EventSource('api/stream'); // relative`, false},
		{`/*! https://github.com/leeoniya/uPlot (v1.6.32) */ var x`, false},
	} {
		in := licenseBanner.ReplaceAllString(tc.in, "")
		if got := externalURL.MatchString(in); got != tc.want {
			t.Errorf("URL pattern on %q: %v, want %v", tc.in, got, tc.want)
		}
	}
	for name, f := range files {
		// The one URL allowed is the vendor's banner comment naming its
		// home page; a comment loads nothing.
		text := licenseBanner.ReplaceAllString(string(f.data), "")
		for _, u := range externalURL.FindAllString(text, -1) {
			t.Errorf("%s contains the URL %q: the dashboard must not depend on other hosts", name, u)
		}
	}
}

func TestAssetCaching(t *testing.T) {
	d := MustNew(newFakeSource(), Config{})
	files, _ := loadStatic()
	f := files["app.js"]

	resp := get(t, d, "/assets/app.js?v="+f.hash)
	if got, want := resp.header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
		t.Errorf("versioned asset Cache-Control = %q, want %q", got, want)
	}
	etag := resp.header.Get("ETag")
	if etag != f.etag || etag == "" {
		t.Errorf("ETag = %q, want %q", etag, f.etag)
	}
	if got := resp.body; got != string(f.data) {
		t.Errorf("GET app.js served %d bytes, want the %d embedded", len(got), len(f.data))
	}

	resp = get(t, d, "/assets/app.js")
	if got, want := resp.header.Get("Cache-Control"), "no-cache"; got != want {
		t.Errorf("unversioned asset Cache-Control = %q, want %q", got, want)
	}
	resp = get(t, d, "/assets/app.js?v=0000", "If-None-Match", etag)
	if resp.code != http.StatusNotModified {
		t.Errorf("GET with If-None-Match: %d, want 304", resp.code)
	}
	ir := get(t, d, "/")
	resp = get(t, d, "/", "If-None-Match", ir.header.Get("ETag"))
	if resp.code != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match: %d, want 304", resp.code)
	}
	for _, path := range []string{"/assets/nope.js", "/assets/", "/assets/vendor/uplot/README.md", "/index.html", "/api/nope", "/status"} {
		if resp := get(t, d, path); resp.code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.code)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/api/snapshot", nil)
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/snapshot = %d, want 405", rec.Code)
	}
}

func TestSnapshot(t *testing.T) {
	synctest.Test(t, testSnapshot)
}

// testSnapshot runs in a bubble: its clock starts at 2000-01-01 00:00 UTC.
func testSnapshot(t *testing.T) {
	now := time.Now().UTC()
	src := newFakeSource()
	src.setStatus(testStatus(now.Add(-time.Hour)))
	src.addPoints(testPoints(now, 400)...) // more than History
	e1 := src.addEvent(gateway.Event{Time: now.Add(-time.Minute), Kind: "host_ejected", Upstream: "api", Host: "10.0.0.3:8080", Detail: "5 consecutive 5xx for 30s"})
	e2 := src.addEvent(gateway.Event{Time: now.Add(-time.Second), Kind: "reload", Detail: "configuration reloaded"})

	d := MustNew(src, Config{History: 2 * time.Minute})
	resp := get(t, d, "/api/snapshot")
	raw := resp.body
	if resp.code != http.StatusOK || resp.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/snapshot = %d %q, want 200 application/json", resp.code, resp.header.Get("Content-Type"))
	}

	// The shape clients rely on: these keys, these types.
	var shape map[string]any
	if err := json.Unmarshal([]byte(raw), &shape); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for k, v := range shape {
		keys[k] = jsonType(v)
	}
	wantKeys := map[string]string{"title": "string", "time": "string", "interval_ms": "number", "history_ms": "number", "status": "object", "series": "array", "events": "array"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("snapshot keys (-want +got):\n%s", diff)
	}
	series := shape["series"].([]any)
	point := series[0].(map[string]any)
	var pkeys []string
	for k := range point {
		pkeys = append(pkeys, k)
	}
	wantP := []string{"time", "requests", "errors", "stale", "fallbacks", "rejected", "p50_ms", "p95_ms", "p99_ms"}
	if diff := cmp.Diff(wantP, pkeys, cmpSorted); diff != "" {
		t.Errorf("point keys (-want +got):\n%s", diff)
	}
	host := shape["status"].(map[string]any)["upstreams"].([]any)[0].(map[string]any)["hosts"].([]any)[0].(map[string]any)
	for _, k := range []string{"address", "healthy", "ejected", "drained", "breaker", "active", "latency_ewma_ns"} {
		if _, ok := host[k]; !ok {
			t.Errorf("status.upstreams[0].hosts[0] has no %q", k)
		}
	}

	// The content: the status, the last History of points, every event.
	var got Snapshot
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	want := Snapshot{
		Title: "Keel", Time: now, IntervalMS: 1000, HistoryMS: 120000,
		Status: testStatus(now.Add(-time.Hour)),
		Series: testPoints(now, 400)[400-120:],
		Events: []gateway.Event{e1, e2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}

	// An empty source gives empty arrays, not null.
	d = MustNew(newFakeSource(), Config{})
	raw = get(t, d, "/api/snapshot").body
	for _, k := range []string{`"series":[]`, `"events":[]`} {
		if !strings.Contains(raw, k) {
			t.Errorf("empty snapshot %s has no %s", raw, k)
		}
	}
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "?"
}
