package netfault_test

import (
	"net"
	"testing"

	"github.com/keelhq/keel/chaos/netfault/netfaulttest"
)

// BenchmarkHostRun measures entering and leaving a host's namespace.
func BenchmarkHostRun(b *testing.B) {
	n := netfaulttest.New(b)
	h := netfaulttest.AddHost(b, n, "a")
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Run(func() error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHostDial measures a TCP connect from one host to another, and
// the same connect on the process's own loopback for comparison.
func BenchmarkHostDial(b *testing.B) {
	n := netfaulttest.New(b)
	a := netfaulttest.AddHost(b, n, "a")
	c := netfaulttest.AddHost(b, n, "c")
	inA, err := a.Listen("tcp", ":9000")
	if err != nil {
		b.Fatal(err)
	}
	local, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	for _, l := range []net.Listener{inA, local} {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				_ = conn.Close()
			}
		}()
	}
	b.Cleanup(func() {
		_ = inA.Close()
		_ = local.Close()
		<-done
		<-done
	})
	addr := a.IP().String() + ":9000"
	b.Run("between-hosts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			conn, err := c.DialContext(b.Context(), "tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			_ = conn.Close()
		}
	})
	b.Run("loopback", func(b *testing.B) {
		b.ReportAllocs()
		var d net.Dialer
		for b.Loop() {
			conn, err := d.DialContext(b.Context(), "tcp", local.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			_ = conn.Close()
		}
	})
}
