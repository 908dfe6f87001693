package netfault

import (
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// partitionMode is how two hosts are cut apart.
type partitionMode int

const (
	partitionDrop   partitionMode = iota + 1 // silent: bogus neighbor entries
	partitionReject                          // loud: unreachable routes
)

// nowhere is the MAC address a partitioned host sends the other's packets
// to: locally administered, unicast, and owned by no interface.
const nowhere = "02:00:00:00:00:00"

// Partition cuts a and b apart: from now on every packet between them is
// dropped silently, both ways, including packets of connections already
// open, while both still reach every other host. Connection attempts and
// requests between them hang until their own timeouts. Partitioning a
// partitioned pair again does nothing; Heal undoes it.
func (n *Network) Partition(a, b *Host) error { return n.cut(a, b, partitionDrop) }

// PartitionReject cuts a and b apart loudly: each kernel refuses to send to
// the other, so new connections fail at once with "no route to host"
// (EHOSTUNREACH) and sends on open connections fail. Heal undoes it.
func (n *Network) PartitionReject(a, b *Host) error { return n.cut(a, b, partitionReject) }

// Heal undoes Partition or PartitionReject between a and b. Healing a pair
// that is not partitioned does nothing.
func (n *Network) Heal(a, b *Host) error {
	key, err := n.pair(a, b)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	return n.healLocked(key)
}

// HealAll undoes every partition.
func (n *Network) HealAll() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	for key := range n.partitions {
		if err := n.healLocked(key); err != nil {
			return err
		}
	}
	return nil
}

// pair returns the map key of the pair a, b, in a fixed order.
func (n *Network) pair(a, b *Host) ([2]*Host, error) {
	switch {
	case a == nil || b == nil:
		return [2]*Host{}, fmt.Errorf("%w: nil host", ErrConfig)
	case a.net != n || b.net != n:
		return [2]*Host{}, fmt.Errorf("%w: host of another network", ErrConfig)
	case a == b:
		return [2]*Host{}, fmt.Errorf("%w: cannot partition host %q from itself", ErrConfig, a.name)
	case a.index > b.index:
		a, b = b, a
	}
	return [2]*Host{a, b}, nil
}

func (n *Network) cut(a, b *Host, mode partitionMode) error {
	key, err := n.pair(a, b)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.partitions[key] == mode {
		return nil
	}
	if err := n.healLocked(key); err != nil {
		return err
	}
	for _, d := range [2][2]*Host{{key[0], key[1]}, {key[1], key[0]}} {
		from, to := d[0], d[1]
		var args []string
		if mode == partitionDrop {
			args = []string{"-n", from.ns, "neigh", "replace", to.ip.String(), "lladdr", nowhere, "dev", "eth0", "nud", "permanent"}
		} else {
			args = []string{"-n", from.ns, "route", "replace", "unreachable", to.ip.String() + "/32"}
		}
		if err := n.ip(args...); err != nil {
			n.partitions[key] = mode // so that Heal removes what was applied
			return err
		}
	}
	n.partitions[key] = mode
	return nil
}

// healLocked removes the partition of pair key, if any.
func (n *Network) healLocked(key [2]*Host) error {
	mode, ok := n.partitions[key]
	if !ok {
		return nil
	}
	var firstErr error
	for _, d := range [2][2]*Host{{key[0], key[1]}, {key[1], key[0]}} {
		from, to := d[0], d[1]
		var args []string
		if mode == partitionDrop {
			args = []string{"-n", from.ns, "neigh", "del", to.ip.String(), "dev", "eth0"}
		} else {
			args = []string{"-n", from.ns, "route", "del", "unreachable", to.ip.String() + "/32"}
		}
		if err := n.ip(args...); err != nil && !absent(err) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		delete(n.partitions, key)
	}
	return firstErr
}

// absent reports whether a failed ip command failed because what it was to
// delete is not there.
func absent(err error) bool {
	ce, ok := err.(*CommandError) //nolint:errorlint // ip returns it unwrapped
	if !ok {
		return false
	}
	return strings.Contains(ce.Output, "No such") || strings.Contains(ce.Output, "Cannot find") ||
		strings.Contains(ce.Output, "RTNETLINK answers: No such process")
}

// Direction says which traffic of a host Shape affects.
type Direction int

const (
	// Both: traffic leaving and reaching the host. The zero Direction.
	Both Direction = iota
	// Egress: traffic the host sends.
	Egress
	// Ingress: traffic the host receives.
	Ingress
)

func (d Direction) String() string {
	switch d {
	case Both:
		return "both"
	case Egress:
		return "egress"
	case Ingress:
		return "ingress"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Link describes an impaired link. The zero Link is an unimpaired one.
type Link struct {
	// Rate is the bandwidth in bytes per second, counted at the link layer:
	// Ethernet headers included, so TCP moves about 4% less payload at an
	// MTU of 1500. Zero: unlimited. Applied with tbf, or with netem's rate
	// when Delay, Jitter or Loss is set.
	Rate int64
	// Delay is added to every packet; Jitter varies it uniformly by up to
	// ±Jitter (which needs Delay). Need netem.
	Delay, Jitter time.Duration
	// Loss is the fraction of packets dropped, in [0, 1]. Needs netem.
	Loss float64
}

// needsNetem reports whether l needs the netem queueing discipline.
func (l Link) needsNetem() bool { return l.Delay > 0 || l.Jitter > 0 || l.Loss > 0 }

// Validate reports the first invalid field.
func (l Link) Validate() error {
	switch {
	case l.Rate < 0:
		return fmt.Errorf("%w: Link.Rate %d is negative", ErrConfig, l.Rate)
	case l.Rate > math.MaxInt64/8:
		return fmt.Errorf("%w: Link.Rate %d is too large", ErrConfig, l.Rate)
	case l.Delay < 0:
		return fmt.Errorf("%w: Link.Delay %v is negative", ErrConfig, l.Delay)
	case l.Jitter < 0:
		return fmt.Errorf("%w: Link.Jitter %v is negative", ErrConfig, l.Jitter)
	case l.Jitter > 0 && l.Delay == 0:
		return fmt.Errorf("%w: Link.Jitter %v needs a Delay", ErrConfig, l.Jitter)
	case !(l.Loss >= 0 && l.Loss <= 1): // also rejects NaN
		return fmt.Errorf("%w: Link.Loss %v is outside [0, 1]", ErrConfig, l.Loss)
	}
	return nil
}

// mtuFrame is the largest Ethernet frame at the default MTU.
const mtuFrame = 1514

// qdiscArgs returns the tc arguments after "root" that give l: tbf for a
// bare rate, netem otherwise.
func qdiscArgs(l Link) []string {
	bits := strconv.FormatInt(l.Rate*8, 10) + "bit"
	if !l.needsNetem() {
		// The bucket holds 10ms of traffic, and at least four full
		// frames. The queue holds the bucket and 200ms more, and at least
		// 256 KiB: on a bridge port, 64 KiB GSO bursts arrive whole, and
		// a shorter queue drops them whole, which costs TCP some 10% of
		// the rate.
		burst := max(l.Rate/100, 4*mtuFrame)
		limit := max(burst+l.Rate/5, 3*burst, 256<<10)
		return []string{"tbf", "rate", bits, "burst", strconv.FormatInt(burst, 10), "limit", strconv.FormatInt(limit, 10)}
	}
	args := []string{"netem", "limit", "10000"}
	if l.Delay > 0 {
		args = append(args, "delay", usec(l.Delay))
		if l.Jitter > 0 {
			args = append(args, usec(l.Jitter))
		}
	}
	if l.Loss > 0 {
		args = append(args, "loss", strconv.FormatFloat(l.Loss*100, 'g', -1, 64)+"%")
	}
	if l.Rate > 0 {
		args = append(args, "rate", bits)
	}
	return args
}

func usec(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + "us" }

// Shape impairs the links of h in direction dir as l says, replacing any
// earlier shaping in that direction; the zero Link removes it. Rate works
// with any kernel (tbf); Delay, Jitter and Loss need netem and return an
// [*UnsupportedError] without it. Shape needs the tc command.
func (n *Network) Shape(h *Host, dir Direction, l Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if h == nil || h.net != n {
		return fmt.Errorf("%w: host of another network", ErrConfig)
	}
	if dir < Both || dir > Ingress {
		return fmt.Errorf("%w: direction %v", ErrConfig, dir)
	}
	tc, err := exec.LookPath("tc")
	if err != nil {
		return ErrNoTC
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if l.needsNetem() {
		if err := n.probeNetemLocked(tc, l); err != nil {
			return err
		}
	}
	var devs [][2]string // namespace, device
	if dir == Both || dir == Egress {
		devs = append(devs, [2]string{h.ns, "eth0"})
	}
	if dir == Both || dir == Ingress {
		devs = append(devs, [2]string{n.name, h.peer})
	}
	for _, d := range devs {
		if l == (Link{}) {
			if _, err := n.output(tc, "-n", d[0], "qdisc", "del", "dev", d[1], "root"); err != nil && !absent(err) && !noQdisc(err) {
				return err
			}
			continue
		}
		args := append([]string{"-n", d[0], "qdisc", "replace", "dev", d[1], "root"}, qdiscArgs(l)...)
		if _, err := n.output(tc, args...); err != nil {
			return err
		}
	}
	return nil
}

// noQdisc reports whether tc failed to delete a root qdisc that was never
// added.
func noQdisc(err error) bool {
	ce, ok := err.(*CommandError) //nolint:errorlint // output returns it unwrapped
	return ok && (strings.Contains(ce.Output, "handle of zero") || strings.Contains(ce.Output, "Invalid handle"))
}

// NetemSupported reports whether this kernel has the netem queueing
// discipline, which Shape needs for delay, jitter and loss. It asks the
// kernel once per Network.
func (n *Network) NetemSupported() (bool, error) {
	tc, err := exec.LookPath("tc")
	if err != nil {
		return false, ErrNoTC
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false, ErrClosed
	}
	err = n.probeNetemLocked(tc, Link{Delay: time.Millisecond})
	if err == nil {
		return true, nil
	}
	if _, ok := err.(*UnsupportedError); ok { //nolint:errorlint // returned unwrapped just above
		return false, nil
	}
	return false, err
}

// probeNetemLocked returns nil if the kernel has netem, an
// *UnsupportedError naming what l asked for if it does not, or the error
// that kept it from finding out.
func (n *Network) probeNetemLocked(tc string, l Link) error {
	if n.netem == 0 {
		out, err := n.output(tc, "-n", n.name, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
		switch {
		case err == nil:
			n.netem = 1
			if _, err := n.output(tc, "-n", n.name, "qdisc", "del", "dev", "lo", "root"); err != nil {
				return err
			}
		case strings.Contains(out, "unknown") || strings.Contains(out, "not found"):
			n.netem, n.netemOut = -1, strings.TrimSpace(out)
		default:
			return err
		}
	}
	if n.netem > 0 {
		return nil
	}
	var faults []string
	if l.Delay > 0 || l.Jitter > 0 {
		faults = append(faults, "delay")
	}
	if l.Loss > 0 {
		faults = append(faults, "loss")
	}
	return &UnsupportedError{Fault: strings.Join(faults, " and "), Qdisc: "netem", Output: n.netemOut}
}
