// Package netfaulttest gives tests a [netfault.Network] with one call: it
// skips the test where networks cannot be built (not root, no ip command,
// not Linux) and fails it instead when the environment variable CI is set,
// because CI runs as root and a silent skip there would hide a broken
// test. The network is closed when the test ends.
//
//	func TestFailover(t *testing.T) {
//		net := netfaulttest.New(t)
//		a := netfaulttest.AddHost(t, net, "a")
//		b := netfaulttest.AddHost(t, net, "b")
//		...
//		if err := net.Partition(a, b); err != nil {
//			t.Fatal(err)
//		}
//	}
package netfaulttest
