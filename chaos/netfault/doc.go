// Package netfault builds test networks of real hosts on one Linux machine
// and breaks the links between them: partitions, bandwidth limits and, where
// the kernel has the netem queueing discipline, delay and packet loss.
//
// Each host is a network namespace with one interface, eth0, whose veth peer
// is a port of a bridge in the network's own namespace; hosts get addresses
// on a private /24 (10.201.0.0/24 by default). Nothing is added to the
// caller's own namespace, so networks never collide with each other or with
// the machine's interfaces.
//
//	net, err := netfault.New(netfault.Config{Name: t.Name()})
//	...
//	defer net.Close()
//	a, _ := net.AddHost("a")
//	b, _ := net.AddHost("b")
//	srv := a.Command("my-server", "-listen", a.IP().String()+":8080") // runs inside a
//	client := &http.Client{Transport: &http.Transport{DialContext: b.DialContext}}
//	net.Partition(a, b) // a and b no longer hear each other
//	net.Heal(a, b)
//
// Faults:
//
//   - [Network.Partition] drops every packet between two hosts, silently,
//     both ways, as a failed switch or cable does: connections and requests
//     hang until their own timeouts. It works by pointing each host's
//     neighbor (ARP) entry for the other at a MAC address nobody has, so
//     it needs no firewall or traffic-control modules.
//   - [Network.PartitionReject] makes each host's kernel refuse to send to
//     the other ("no route to host"), so connection attempts fail at once.
//   - [Network.Shape] limits a host's bandwidth with the tbf queueing
//     discipline, and adds delay, jitter and loss with netem when the kernel
//     has it; without netem those return an [*UnsupportedError].
//
// Building networks needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and the ip
// command from iproute2; shaping also needs tc. [Check] reports whether they
// are there; package netfaulttest turns that into a skip, or a failure in CI.
// Namespaces are named keel-<pid>-<n>-…; New deletes those left behind by
// processes that no longer run, and Close deletes its own.
//
// The package works only on Linux; elsewhere New and Check return an error.
package netfault
