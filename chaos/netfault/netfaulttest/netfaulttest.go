package netfaulttest

import (
	"os"
	"testing"

	"github.com/keelhq/keel/chaos/netfault"
)

// Require skips tb if this process cannot build networks (see
// [netfault.Check]), or fails it if the environment variable CI is set.
func Require(tb testing.TB) {
	tb.Helper()
	if err := netfault.Check(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%v (CI is set, so this test must run: run it as root)", err)
		}
		tb.Skipf("skipping: %v", err)
	}
}

// New calls Require, then returns a new network named after the test,
// which is closed when the test and its subtests end.
func New(tb testing.TB) *netfault.Network {
	tb.Helper()
	Require(tb)
	n, err := netfault.New(netfault.Config{Name: tb.Name()})
	if err != nil {
		tb.Fatalf("netfault.New: %v", err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Errorf("netfault: Close: %v", err)
		}
	})
	return n
}

// AddHost adds a host to n and fails tb if that fails.
func AddHost(tb testing.TB, n *netfault.Network, name string) *netfault.Host {
	tb.Helper()
	h, err := n.AddHost(name)
	if err != nil {
		tb.Fatalf("netfault: AddHost(%q): %v", name, err)
	}
	return h
}
