package netfaulttest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keelhq/keel/chaos/netfault/netfaulttest"
)

func TestNewClosesAtCleanup(t *testing.T) {
	netfaulttest.Require(t)
	var ns string
	t.Run("sub", func(t *testing.T) {
		n := netfaulttest.New(t)
		h := netfaulttest.AddHost(t, n, "a")
		ns = h.Namespace()
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			t.Fatalf("host namespace: %v", err)
		}
	})
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
		t.Errorf("namespace %s still exists after the test ended", ns)
	}
}
