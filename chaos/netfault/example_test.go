package netfault_test

import (
	"fmt"
	"time"

	"github.com/keelhq/keel/chaos/netfault"
)

// A Link describes an impaired link for Network.Shape. Validate checks it
// before any command runs.
func ExampleLink() {
	slow := netfault.Link{Rate: 1 << 20}                             // 1 MiB/s: works with any kernel (tbf)
	lossy := netfault.Link{Delay: 80 * time.Millisecond, Loss: 0.02} // needs netem
	bad := netfault.Link{Jitter: 10 * time.Millisecond}
	fmt.Println(slow.Validate())
	fmt.Println(lossy.Validate())
	fmt.Println(bad.Validate())
	// Output:
	// <nil>
	// <nil>
	// netfault: invalid argument: Link.Jitter 10ms needs a Delay
}
