package config

import (
	"strings"
	"testing"
)

func TestChaosSection(t *testing.T) {
	const base = "upstreams:\n  app: {targets: [\"127.0.0.1:3000\"]}\nroutes:\n  - {name: app, upstream: app}\n"
	c, err := Parse("k.yaml", []byte(base+`chaos:
  seed: 11685948886993082279
  faults:
    - {id: slow, kind: latency, latency: 200ms, percent: 25%, route: app, host: "127.0.0.1:3000"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Chaos.Seed != 11685948886993082279 {
		t.Errorf("seed %d: a seed above MaxInt64 must survive", c.Chaos.Seed)
	}
	f := c.Chaos.Faults[0].Chaos()
	if f.Route != "app" || f.Host != "127.0.0.1:3000" || f.Percent == nil || *f.Percent != 25 || f.Latency.String() != "200ms" {
		t.Errorf("fault %+v", f)
	}
	for _, tc := range []struct{ yml, want string }{
		{"chaos: {seed: -1}\n", "chaos.seed: must be an integer from 0"},
		{"chaos: {faults: [{kind: nope}]}\n", "chaos.faults[0].kind"},
		{"chaos: {faults: [{kind: latency, route: other}]}\n", `chaos.faults[0].route: unknown route "other"`},
		{"chaos: {faults: [{id: a, kind: abort}, {id: a, kind: abort}]}\n", `duplicate fault id "a"`},
	} {
		_, err := Parse("k.yaml", []byte(base+tc.yml), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.yml, err, tc.want)
		}
	}
}
