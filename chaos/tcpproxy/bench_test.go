package tcpproxy

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// The benchmarks compare traffic through a proxy with no toxic against the
// same traffic sent directly to the upstream.

// benchTargets returns the upstream address and the proxy's address for an
// upstream running serve.
func benchTargets(b *testing.B, serve func(net.Conn)) map[string]string {
	e := newEnv(b)
	up := upstream(b, serve)
	p := e.proxy(b, "bench", up)
	return map[string]string{"direct": up, "proxy": p.Listen}
}

// BenchmarkEcho measures request/response round trips of 64 bytes on one
// connection, and reports the p50 and p99 round-trip times.
func BenchmarkEcho(b *testing.B) {
	targets := benchTargets(b, echo)
	for _, name := range []string{"direct", "proxy"} {
		b.Run(name, func(b *testing.B) {
			c := dial(b, targets[name])
			msg := make([]byte, 64)
			got := make([]byte, 64)
			rtts := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					b.Fatal(err)
				}
				if len(rtts) < cap(rtts) {
					rtts = append(rtts, time.Since(start))
				}
			}
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkThroughput measures one-way bulk transfer: the client writes
// 1 MiB per op, the upstream discards it.
func BenchmarkThroughput(b *testing.B) {
	targets := benchTargets(b, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	for _, name := range []string{"direct", "proxy"} {
		b.Run(name, func(b *testing.B) {
			c := dial(b, targets[name])
			buf := make([]byte, 1<<20)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
