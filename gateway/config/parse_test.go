package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const minimal = `
upstreams:
  api: {targets: ["127.0.0.1:3000"]}
routes:
  - name: api
    upstream: api
`

func mustParse(t *testing.T, src string, env map[string]string) *Config {
	t.Helper()
	c, err := Parse("t.yaml", []byte(src), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"TOKEN": "s3cret", "N": "4", "EMPTY": ""}
	tests := []struct {
		value, want string
	}{
		{"${TOKEN}", "s3cret"},
		{"Bearer-${TOKEN}-x", "Bearer-s3cret-x"},
		{"${MISSING:-fallback}", "fallback"},
		{"${EMPTY:-fallback}", "fallback"},
		{"${TOKEN:-fallback}", "s3cret"},
		{"$$${TOKEN}", "$s3cret"},
		{"$${TOKEN}", "${TOKEN}"},
		{"cost$5", "cost$5"},
		{"${MISSING:-}x", "x"},
	}
	for _, tt := range tests {
		c := mustParse(t, "admin: {token: '"+tt.value+"'}\n"+minimal, env)
		if c.Admin.Token != tt.want {
			t.Errorf("token %q: got %q, want %q", tt.value, c.Admin.Token, tt.want)
		}
	}
	// An unquoted value is typed after expansion.
	c := mustParse(t, minimal+"    retry:\n      attempts: ${N}\n", env)
	if got := c.Routes[0].Retry.Attempts; got != 4 {
		t.Errorf("attempts ${N}: got %d, want 4", got)
	}
	// A quoted one stays a string.
	_, err := Parse("t.yaml", []byte(minimal+"    retry:\n      attempts: \"${N}\"\n"), func(k string) string { return env[k] })
	if want := `t.yaml:8:7: routes[0].retry.attempts: must be an integer, got the string "4"`; errText(err) != want {
		t.Errorf("quoted ${N}: got %v, want %s", err, want)
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct{ value, want string }{
		{"${NOPE}", "t.yaml:1:9: admin.token: environment variable NOPE is not set (write ${NOPE:-default} to give a default)"},
		{"${EMPTY}", "t.yaml:1:9: admin.token: environment variable EMPTY is not set (write ${EMPTY:-default} to give a default)"},
		{"${1X}", `t.yaml:1:9: admin.token: invalid environment variable name "1X" in ${...}`},
		{"${OPEN", "t.yaml:1:9: admin.token: unterminated ${ (write $$ for a literal $)"},
	}
	for _, tt := range tests {
		_, err := Parse("t.yaml", []byte("admin: {token: '"+tt.value+"'}\n"+minimal), func(string) string { return "" })
		if errText(err) != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.value, err, tt.want)
		}
	}
}

// TestDefaults: a minimal file gets every documented default.
func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal, nil)
	on := true
	budget := Percent(0.2)
	want := Route{
		Name: "api", Upstream: "api", Match: Match{PathPrefix: "/"},
		Timeout: Duration(15 * time.Second), Criticality: "default",
		Retry: &Retry{
			Attempts: 3, On: []string{"connect_failure", "reset", "502", "503", "504"},
			Backoff: Duration(25 * time.Millisecond), MaxBackoff: Duration(time.Second),
			BudgetPercent: &budget, MinRetriesPerSecond: 10, RetryAfterMax: Duration(10 * time.Second),
		},
	}
	if diff := cmp.Diff(want, c.Routes[0]); diff != "" {
		t.Errorf("route defaults (-want +got):\n%s", diff)
	}
	wantUp := Upstream{
		Targets: []string{"127.0.0.1:3000"}, Scheme: "http", DNSRefresh: Duration(30 * time.Second),
		Balancer: "peak_ewma", ConnectTimeout: Duration(2 * time.Second), MaxIdleConnsPerHost: 64,
		IdleConnTimeout: Duration(90 * time.Second),
		Outlier: &Outlier{
			Interval: Duration(10 * time.Second), Consecutive5xx: 5, ConsecutiveConnectFailures: 3,
			BaseEjectionTime: Duration(30 * time.Second), MaxEjectionTime: Duration(300 * time.Second),
			MaxEjectionPercent: 0.5, PanicThreshold: 0.5,
		},
		Breaker: &Breaker{
			FailureRate: 0.5, MinimumCalls: 20, Window: 100, OpenDuration: Duration(30 * time.Second), HalfOpenPermits: 5,
		},
	}
	if diff := cmp.Diff(wantUp, c.Upstreams["api"]); diff != "" {
		t.Errorf("upstream defaults (-want +got):\n%s", diff)
	}
	wantListen := Listen{
		Address: "127.0.0.1:8080", HTTP2: &on, ReadHeaderTimeout: Duration(10 * time.Second),
		ReadTimeout: Duration(60 * time.Second), IdleTimeout: Duration(120 * time.Second),
		MaxHeaderBytes: 64 << 10, MaxBodyBytes: 10 << 20, DrainTimeout: Duration(30 * time.Second),
	}
	if diff := cmp.Diff(wantListen, c.Listen); diff != "" {
		t.Errorf("listen defaults (-want +got):\n%s", diff)
	}
	wantTel := Telemetry{AccessLog: &on, LogFormat: "json", LogLevel: "info", Metrics: &on, ServiceName: "keel-gateway"}
	if diff := cmp.Diff(wantTel, c.Telemetry); diff != "" {
		t.Errorf("telemetry defaults (-want +got):\n%s", diff)
	}
	if c.Admin.Address != "127.0.0.1:9901" || c.Admission.CriticalityHeader != "Keel-Criticality" || c.Stores.DataDir != "./keel-data" {
		t.Errorf("got admin %q, criticality header %q, data dir %q; want 127.0.0.1:9901, Keel-Criticality, ./keel-data",
			c.Admin.Address, c.Admission.CriticalityHeader, c.Stores.DataDir)
	}
}

func TestSectionDefaults(t *testing.T) {
	c := mustParse(t, `
admission:
  shed: {thresholds: {default: 40%}}
  limit: {min: 50}
  rate_limit: {rate: 2.5/s}
flags: {beta: {}}
stores: {idempotency: "redis://cache:6379/0"}
upstreams:
  api:
    targets: ["127.0.0.1:3000"]
    breaker: {window_duration: 30s, slow_call: 1s}
    health_check: {path: /healthz}
routes:
  - name: api
    upstream: api
    flag: beta
    idempotency: {}
    fallback: {body: '{"ok": false}'}
    hedge: {delay: 20ms}
`, nil)
	if got, want := c.Admission.Shed.Thresholds, map[string]Percent{"default": 0.4, "sheddable": 0.4}; !cmp.Equal(got, want) {
		t.Errorf("shed thresholds: got %v, want %v", got, want)
	}
	if l := c.Admission.Limit; l.Initial != 50 || l.Max != 1000 || l.Algorithm != "gradient2" {
		t.Errorf("limit: got %+v; want initial 50 (raised to min), max 1000, gradient2", *l)
	}
	if b := c.Admission.RateLimit.Burst; b != 3 {
		t.Errorf("rate_limit burst for 2.5/s: got %d, want 3", b)
	}
	if f := c.Flags["beta"]; !*f.Enabled || f.Percent.Fraction() != 1 {
		t.Errorf("flag: got enabled %v, percent %v; want true, 100%%", *f.Enabled, *f.Percent)
	}
	if b := c.Upstreams["api"].Breaker; b.Window != 0 || b.SlowCallRate != 1 {
		t.Errorf("breaker: got window %d, slow_call_rate %v; want 0 (time window) and 100%%", b.Window, b.SlowCallRate)
	}
	if h := c.Upstreams["api"].HealthCheck; h.Interval.Std() != 5*time.Second || h.Jitter != 0.1 || h.Timeout.Std() != time.Second {
		t.Errorf("health check: got %+v", *h)
	}
	r := c.Routes[0]
	if r.Idempotency.Store != "redis://cache:6379/0" || !cmp.Equal(r.Idempotency.Methods, []string{"POST", "PATCH"}) || r.Idempotency.Scope != "credential" {
		t.Errorf("idempotency: got %+v; want the stores.idempotency URL, POST and PATCH, scope credential", *r.Idempotency)
	}
	if fb := r.Fallback; fb.Status != 200 || fb.ContentType != "application/json" || !cmp.Equal(fb.On, []string{"error", "5xx"}) {
		t.Errorf("fallback: got %+v; want 200, application/json, [error 5xx]", *fb)
	}
	if r.Hedge.MaxHedges != 1 {
		t.Errorf("hedge max: got %d, want 1", r.Hedge.MaxHedges)
	}
}

// TestValidateGo: Validate on a Config built in Go treats zero fields as
// defaults and reports errors by key, without positions, sorted by key.
func TestValidateGo(t *testing.T) {
	c := &Config{
		Upstreams: map[string]Upstream{"api": {Targets: []string{"10.0.0.1:80"}}},
		Routes:    []Route{{Name: "a", Upstream: "api"}},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate of a minimal Config: %v", err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate after ApplyDefaults: %v", err)
	}
	c.Routes = append(c.Routes, Route{Name: "a", Upstream: "web", PerTryTimeout: Duration(20 * time.Second), Retry: &Retry{Attempts: 11}})
	err := c.Validate()
	want := []string{
		`routes[1].name: duplicate route name "a" (also routes[0])`,
		"routes[1].per_try_timeout: must not exceed timeout (15s), got 20s",
		"routes[1].retry.attempts: must be between 1 and 10, got 11",
		`routes[1].upstream: unknown upstream "web" (upstreams: api)`,
	}
	var got []string
	for _, e := range Errors(err) {
		if e.Line != 0 || e.File != "" {
			t.Errorf("error %q has a position", e)
		}
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate errors (-want +got):\n%s", diff)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("token", "  tok3n\n")
	write("down.json", `{"status": "down"}`)
	write("keel.yaml", "admin: {token_file: token}\n"+minimal+"    fallback: {body_file: down.json}\n")
	c, err := Load(filepath.Join(dir, "keel.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fb := c.Routes[0].Fallback
	if c.Admin.Token != "tok3n" || c.Admin.TokenFile != "" || fb.Body != `{"status": "down"}` || fb.BodyFile != "" || fb.ContentType != "application/json" {
		t.Errorf("got token %q (file %q), body %q (file %q, type %q); want the contents, the file keys cleared, application/json",
			c.Admin.Token, c.Admin.TokenFile, fb.Body, fb.BodyFile, fb.ContentType)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("a loaded Config does not validate again: %v", err)
	}

	write("bad.yaml", "admin: {token_file: missing}\n"+minimal)
	_, err = Load(filepath.Join(dir, "bad.yaml"), nil)
	var e *Error
	if !errors.As(err, &e) || e.Key != "admin.token_file" || e.Line != 1 || !strings.Contains(e.Msg, "missing") {
		t.Errorf("missing token file: got %v; want an error on admin.token_file, line 1", err)
	}
	absent := filepath.Join(dir, "absent.yaml")
	_, err = Load(absent, nil)
	if !errors.As(err, &e) || e.File != absent || !strings.Contains(e.Msg, "no such file") {
		t.Errorf("absent file: got %v; want an *Error naming %s", err, absent)
	}
}

func TestStructure(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"two documents", minimal + "---\na: 1\n", "t.yaml:7:1: only one YAML document is allowed"},
		{"root list", "- a\n", "t.yaml:1:1: must be a mapping, got a list"},
		{"empty", "", "t.yaml: routes: at least one route is required"},
		{"routes mapping", "routes: {a: 1}\n", "t.yaml:1:1: routes: must be a list, got a mapping"},
		{"non-string key", "upstreams: {[a]: {}}\n" + "routes: []\n", "t.yaml:1:13: upstreams: keys must be strings, got a list"},
		{"too many aliases", aliasBomb(), "upstreams.u248.targets[300]: the document is too large or uses too many aliases"},
	}
	for _, tt := range tests {
		_, err := Parse("t.yaml", []byte(tt.src), nil)
		if got := errText(err); !strings.Contains(got, tt.want) {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.want)
		}
	}
}

// TestMergeKeys: anchors and merge keys work, and explicit keys win.
func TestMergeKeys(t *testing.T) {
	c := mustParse(t, `
upstreams:
  api: {targets: ["127.0.0.1:3000"]}
x-route-defaults: &defaults
  upstream: api
  timeout: 5s
routes:
  - <<: *defaults
    name: a
  - <<: *defaults
    name: b
    timeout: 9s
`, nil)
	if c.Routes[0].Timeout.Std() != 5*time.Second {
		t.Errorf("route a: got timeout %v, want 5s from the anchor", c.Routes[0].Timeout)
	}
	if len(c.Routes) != 2 || c.Routes[1].Upstream != "api" || c.Routes[1].Timeout.Std() != 9*time.Second || c.Routes[1].Name != "b" {
		t.Errorf("merged route: got %+v", c.Routes[1])
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "k.yaml", Line: 3, Column: 5, Key: "a.b", Msg: "bad"}, "k.yaml:3:5: a.b: bad"},
		{Error{File: "k.yaml", Key: "a", Msg: "bad"}, "k.yaml: a: bad"},
		{Error{Key: "a", Msg: "bad"}, "a: bad"},
		{Error{Line: 2, Column: 1, Msg: "bad"}, "2:1: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if Errors(errors.New("x")) != nil {
		t.Error("Errors of a plain error: want nil")
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"atempts", "attempts"}, {"BALANCER", "balancer"}, {"balancr", "balancer"}, {"zebra", ""}, {"x", ""}, {"max_eject_time", "max_ejection_time"},
		{"laod", "load"}, {"balnacer", "balancer"}, // neighbors swapped: one edit
	}
	cands := []string{"attempts", "balancer", "max_ejection_time", "address", "load"}
	for _, tt := range tests {
		if got := Suggest(tt.in, cands); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// aliasBomb is a small file that expands to 300 × 400 targets.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("x-t: &t [")
	for i := range 400 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("\"h:1\"")
	}
	b.WriteString("]\nx-u: &u {targets: *t}\nupstreams:\n")
	for i := range 300 {
		b.WriteString("  u" + strconv.Itoa(i) + ": *u\n")
	}
	return b.String()
}
