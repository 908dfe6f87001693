package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/keelhq/keel/gateway/config"
)

func ExampleParse() {
	src := []byte(`
upstreams:
  api: {targets: ["10.0.0.1:8080", "10.0.0.2:8080"]}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: api
    timeout: 5s
`)
	cfg, err := config.Parse("keel.yaml", src, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := cfg.Routes[0]
	fmt.Println(r.Name, r.Match.PathPrefix, r.Timeout.Std(), r.Retry.Attempts, cfg.Upstreams["api"].Balancer)
	// Output: api /api 5s 3 peak_ewma
}

func ExampleParse_errors() {
	src := []byte(`
upstreams:
  api: {targets: ["10.0.0.1:8080"]}
routes:
  - name: api
    upstream: apii
    retry:
      atempts: 3
    timeout: 5
`)
	_, err := config.Parse("keel.yaml", src, nil)
	fmt.Println(err)
	// Output:
	// keel.yaml:8:7: routes[0].retry.atempts: unknown key (did you mean "attempts"?)
	// keel.yaml:9:5: routes[0].timeout: must be a duration, got the number 5; write "5s"
}

func ExampleParse_env() {
	src := []byte(`
admin: {token: "${ADMIN_TOKEN}"}
upstreams:
  api: {targets: ["${API_HOST:-127.0.0.1}:8080"]}
routes: [{name: api, upstream: api}]
`)
	env := map[string]string{"ADMIN_TOKEN": "s3cret"}
	cfg, err := config.Parse("keel.yaml", src, func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Admin.Token, cfg.Upstreams["api"].Targets)
	// Output: s3cret [127.0.0.1:8080]
}

func ExampleLoad() {
	cfg, err := config.Load(filepath.Join("..", "..", "examples", "gateway", "minimal.yaml"), os.Getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(cfg.Routes), cfg.Listen.Address, cfg.Listen.MaxBodyBytes)
	// Output: 1 127.0.0.1:8080 10MiB
}

func ExampleConfig_Validate() {
	cfg := &config.Config{
		Upstreams: map[string]config.Upstream{"api": {Targets: []string{"10.0.0.1:80"}}},
		Routes:    []config.Route{{Name: "api", Upstream: "api", Retry: &config.Retry{Attempts: 20}}},
	}
	fmt.Println(cfg.Validate())
	// Output: routes[0].retry.attempts: must be between 1 and 10, got 20
}

func ExampleSchema() {
	s := config.Schema()
	fmt.Println(string(s[:1]), len(s) > 1000)
	// Output: { true
}

func ExampleParseRate() {
	r, _ := config.ParseRate("6000/m")
	fmt.Println(r.Limit, r)
	// Output: 100 100/s
}

func ExampleParseByteSize() {
	b, _ := config.ParseByteSize("64KiB")
	fmt.Println(b.Bytes(), b)
	// Output: 65536 64KiB
}

func ExampleParsePercent() {
	p, _ := config.ParsePercent("2.5%")
	fmt.Println(p.Fraction(), p)
	// Output: 0.025 2.5%
}

func ExampleParseDuration() {
	d, _ := config.ParseDuration("1m30s")
	fmt.Println(d.Std().Seconds(), d)
	// Output: 90 1m30s
}
