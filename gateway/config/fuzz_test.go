package config

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/gateway/*.yaml")
	more, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, s := range append(seeds, more...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Add([]byte("routes: [{name: x, upstream: ${U:-u}}]\nupstreams: {u: {targets: ['h:1']}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env := func(k string) string {
			if k == "SET" {
				return "value"
			}
			return ""
		}
		c, err := Parse("f.yaml", data, env)
		if err == nil {
			if c == nil {
				t.Fatal("Parse returned nil, nil")
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("a parsed Config does not validate again: %v", err)
			}
			d := *c
			d.ApplyDefaults()
			if err := d.Validate(); err != nil {
				t.Fatalf("ApplyDefaults twice breaks the Config: %v", err)
			}
			return
		}
		errs := Errors(err)
		if len(errs) == 0 {
			t.Fatalf("error %v holds no *Error", err)
		}
		for _, e := range errs {
			if e.Line <= 0 && e.Key == "" {
				t.Fatalf("error %q has neither a line nor a key", e)
			}
		}
	})
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"250ms", "1m30s", "-1s", "5", "1h2m3.5s", "9999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		b, _ := d.MarshalText()
		if back, err := ParseDuration(string(b)); err != nil || back != d {
			t.Fatalf("%q: text %s parses to %v, %v", s, b, back, err)
		}
	})
}

func FuzzPercent(f *testing.F) {
	for _, s := range []string{"25%", "25.5%", "100%", "0%", "100.0001%", "1e2%", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePercent(s)
		if err != nil {
			return
		}
		if !(p >= 0 && p <= 1) {
			t.Fatalf("ParsePercent(%q) = %v, outside [0, 1]", s, float64(p))
		}
		b, _ := p.MarshalText()
		if back, err := ParsePercent(string(b)); err != nil || math.Abs(float64(back-p)) > 1e-12 {
			t.Fatalf("%q: text %s parses to %v, %v", s, b, back, err)
		}
	})
}

func FuzzByteSize(f *testing.F) {
	for _, s := range []string{"64KiB", "1MB", "1024", "9223372036854775807", "8589934592GiB", "1 TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseByteSize(%q) = %d, negative", s, b)
		}
		txt, _ := b.MarshalText()
		if back, err := ParseByteSize(string(txt)); err != nil || back != b {
			t.Fatalf("%q: text %s parses to %d, %v", s, txt, back, err)
		}
	})
}

func FuzzRate(f *testing.F) {
	for _, s := range []string{"100/s", "6000/m", "10/1s", "5/500ms", "1/1ns", "0.5/h", "1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if !(r.Limit > 0) || math.IsInf(r.Limit, 0) {
			t.Fatalf("ParseRate(%q) = %v, want a positive finite rate", s, r.Limit)
		}
		if r.Limit > 1e30 {
			return // beyond what text round trips exactly
		}
		b, _ := r.MarshalText()
		back, err := ParseRate(string(b))
		if err != nil || math.Abs(back.Limit-r.Limit) > 1e-9*r.Limit {
			t.Fatalf("%q: text %s parses to %v, %v", s, b, back, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../../examples/gateway/keel.yaml")
	if err != nil {
		b.Fatal(err)
	}
	env := func(k string) string {
		if k == "ADMIN_TOKEN" {
			return "s3cret"
		}
		return ""
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("keel.yaml", data, env); err != nil {
			b.Fatal(err)
		}
	}
}
