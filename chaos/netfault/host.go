package netfault

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
)

// Host is one host of a [Network]: a network namespace with one interface,
// eth0, holding the address IP on the network's subnet. Its methods are safe
// for concurrent use.
type Host struct {
	net   *Network
	name  string
	index int
	ns    string
	peer  string // the veth peer's name in the network's namespace
	ip    netip.Addr
}

// validHostName reports whether name is 1 to 15 lower-case letters, digits
// and '-', starting with a letter or digit.
func validHostName(name string) bool {
	if len(name) == 0 || len(name) > 15 || name[0] == '-' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// AddHost creates a host named name (1 to 15 lower-case letters, digits or
// '-', unique in the network) with the next free address of the subnet.
func (n *Network) AddHost(name string) (*Host, error) {
	if !validHostName(name) {
		return nil, fmt.Errorf("%w: host name %q: want 1 to 15 of a-z, 0-9 and '-', not starting with '-'", ErrConfig, name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	if slices.ContainsFunc(n.hosts, func(h *Host) bool { return h.name == name }) {
		return nil, fmt.Errorf("%w: host %q exists", ErrConfig, name)
	}
	addr := n.next
	if !n.subnet.Contains(addr.Next()) { // the last address is the broadcast address
		return nil, fmt.Errorf("%w: subnet %v is full", ErrConfig, n.subnet)
	}
	h := &Host{
		net:   n,
		name:  name,
		index: len(n.hosts),
		ns:    n.name + "-" + name,
		peer:  "h" + strconv.Itoa(len(n.hosts)),
		ip:    addr,
	}
	if err := n.ip("netns", "add", h.ns); err != nil {
		return nil, err
	}
	cidr := netip.PrefixFrom(addr, n.subnet.Bits()).String()
	for _, args := range [][]string{
		{"-n", h.ns, "link", "set", "lo", "up"},
		{"-n", n.name, "link", "add", h.peer, "type", "veth", "peer", "name", "eth0", "netns", h.ns},
		{"-n", n.name, "link", "set", h.peer, "master", "br0"},
		{"-n", n.name, "link", "set", h.peer, "up"},
		{"-n", h.ns, "addr", "add", cidr, "dev", "eth0"},
		{"-n", h.ns, "link", "set", "eth0", "up"},
	} {
		if err := n.ip(args...); err != nil {
			_ = n.deleteNamespace(h.ns)
			return nil, err
		}
	}
	n.next = addr.Next()
	n.hosts = append(n.hosts, h)
	return h, nil
}

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// IP returns the host's address.
func (h *Host) IP() netip.Addr { return h.ip }

// Namespace returns the name of the host's network namespace, for
// "ip netns exec".
func (h *Host) Namespace() string { return h.ns }

// Command returns a command that runs name with args inside the host's
// namespace ("ip netns exec"). The process is name itself, not a wrapper,
// so signaling Cmd.Process signals it. Network.Close kills it if it still
// runs.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command(h.net.ipPath, h.commandArgs(name, args)...) //nolint:gosec // running the caller's command is the point
}

// CommandContext is like Command but kills the process when ctx ends, as
// exec.CommandContext does.
func (h *Host) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, h.net.ipPath, h.commandArgs(name, args)...) //nolint:gosec // running the caller's command is the point
}

func (h *Host) commandArgs(name string, args []string) []string {
	return slices.Concat([]string{"netns", "exec", h.ns, name}, args)
}

// Run runs fn on an OS thread that has entered the host's namespace, so
// that sockets fn creates belong to the host. A socket keeps its namespace
// for life, so it may be used from any goroutine afterwards. Goroutines that
// fn starts do not run in the namespace. A panic in fn is re-raised in the
// caller.
func (h *Host) Run(fn func() error) error {
	return runIn(filepath.Join(netnsDir, h.ns), fn)
}

// Listen announces on the host's network, as net.Listen does; address is
// typically ":port" or h.IP():port.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := h.Run(func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket is like Listen for packet networks such as "udp".
func (h *Host) ListenPacket(network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := h.Run(func() error {
		var err error
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// DialContext connects from the host, as net.Dialer.DialContext does. Its
// signature fits http.Transport.DialContext. The address should be an IP
// address and port: a host name would be resolved outside the namespace.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := h.Run(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}
