package netfault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Prefix starts the name of every network namespace this package creates.
const Prefix = "keel-"

// DefaultSubnet is the subnet of a Network whose Config.Subnet is zero.
var DefaultSubnet = netip.MustParsePrefix("10.201.0.0/24")

// netnsDir is where ip netns keeps its named namespaces.
const netnsDir = "/run/netns"

// commandTimeout bounds every ip and tc command.
const commandTimeout = 30 * time.Second

var (
	// ErrNotRoot is returned when the process is not root: network
	// namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN.
	ErrNotRoot = errors.New("netfault: network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN); run as root")
	// ErrNoIP is returned when the ip command of iproute2 is not installed.
	ErrNoIP = errors.New("netfault: the ip command (iproute2) is not installed")
	// ErrNoTC is returned by Shape when the tc command of iproute2 is not
	// installed.
	ErrNoTC = errors.New("netfault: the tc command (iproute2) is not installed")
	// ErrUnsupported is matched by every [*UnsupportedError].
	ErrUnsupported = errors.New("netfault: unsupported by this kernel")
	// ErrClosed is returned by methods of a closed Network.
	ErrClosed = errors.New("netfault: network closed")
	// ErrConfig is matched by every error that Config.Validate and the
	// argument checks return.
	ErrConfig = errors.New("netfault: invalid argument")
)

// UnsupportedError reports a fault that this kernel cannot apply, such as
// delay or loss without the netem queueing discipline. It matches
// [ErrUnsupported].
type UnsupportedError struct {
	// Fault names what was asked for ("delay", "loss").
	Fault string
	// Qdisc is the queueing discipline it needs ("netem").
	Qdisc string
	// Output is what tc said.
	Output string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("netfault: %s needs the %s queueing discipline, which this kernel lacks (sch_%s not built or loadable; tc said %q)",
		e.Fault, e.Qdisc, e.Qdisc, e.Output)
}

// Is reports whether target is ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// CommandError reports an ip or tc command that failed.
type CommandError struct {
	// Args is the command line.
	Args []string
	// Output is its combined standard output and error.
	Output string
	// Err is the error of exec.Cmd.Run.
	Err error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("netfault: %s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Output))
}

func (e *CommandError) Unwrap() error { return e.Err }

// Check reports whether this process can build networks: it must run on
// Linux as root with the ip command installed. The error is ErrNotRoot or
// ErrNoIP (or says the OS is not Linux).
func Check() error {
	if err := checkOS(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return ErrNoIP
	}
	return nil
}

// Config configures a [Network]. The zero value is valid.
type Config struct {
	// Name labels the network's namespaces, to tell them apart in
	// "ip netns list"; characters other than letters, digits, '_' and '.'
	// become '_', and it is cut to 32 bytes. Tests pass t.Name().
	// Default "net".
	Name string
	// Subnet is the IPv4 subnet of the hosts' addresses; the first host gets
	// the subnet's first address after the network address. Its length must
	// be between /8 and /30. Default DefaultSubnet (10.201.0.0/24).
	Subnet netip.Prefix
	// Logger receives a debug record for every command run. Nil: no logs.
	Logger *slog.Logger
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Subnet.IsValid() && (!c.Subnet.Addr().Is4() || c.Subnet.Bits() < 8 || c.Subnet.Bits() > 30) {
		return fmt.Errorf("%w: Config.Subnet %v is not an IPv4 prefix between /8 and /30", ErrConfig, c.Subnet)
	}
	return nil
}

// seq numbers the networks of this process.
var seq atomic.Int64

// Network is a set of hosts joined by a bridge. Its methods are safe for
// concurrent use; faults are applied one at a time.
type Network struct {
	name   string // the bridge's namespace; hosts' are name-host
	subnet netip.Prefix
	ipPath string
	log    *slog.Logger

	mu         sync.Mutex
	closed     bool
	next       netip.Addr
	hosts      []*Host
	partitions map[[2]*Host]partitionMode
	netem      int // 0 unknown, 1 yes, -1 no
	netemOut   string
}

// New checks that this process can build networks (see [Check]), deletes the
// namespaces that processes which no longer run left behind, and creates an
// empty network: a namespace holding a bridge.
func New(cfg Config) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := Check(); err != nil {
		return nil, err
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		return nil, ErrNoIP
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = DefaultSubnet
	}
	cfg.Subnet = cfg.Subnet.Masked()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	label := sanitize(cfg.Name)
	if label == "" {
		label = "net"
	}
	n := &Network{
		name:       fmt.Sprintf("%s%d-%d-%s", Prefix, os.Getpid(), seq.Add(1), label),
		subnet:     cfg.Subnet,
		ipPath:     ipPath,
		log:        log,
		next:       cfg.Subnet.Addr().Next(),
		partitions: make(map[[2]*Host]partitionMode),
	}
	n.sweep()
	if err := n.ip("netns", "add", n.name); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"-n", n.name, "link", "set", "lo", "up"},
		{"-n", n.name, "link", "add", "br0", "type", "bridge"},
		{"-n", n.name, "link", "set", "br0", "up"},
	} {
		if err := n.ip(args...); err != nil {
			_ = n.deleteNamespace(n.name)
			return nil, err
		}
	}
	return n, nil
}

// MustNew is like New but panics on error.
func MustNew(cfg Config) *Network {
	n, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return n
}

// Name returns the name of the network's own namespace, which holds the
// bridge; a host's namespace is Name() + "-" + its name.
func (n *Network) Name() string { return n.name }

// sanitize makes s safe in a namespace name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}

// ownerPID returns the pid in a namespace name keel-<pid>-…, or 0.
func ownerPID(name string) int {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return 0
	}
	pidStr, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// sweep deletes the namespaces named by this package whose owning process
// no longer runs. Errors are logged: another process may be sweeping too.
func (n *Network) sweep() {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid := ownerPID(e.Name())
		if pid == 0 || pid == os.Getpid() {
			continue
		}
		if processExists(pid) {
			continue // its owner still runs
		}
		n.log.Debug("netfault: deleting a stale namespace", slog.String("netns", e.Name()), slog.Int("owner", pid))
		if err := n.deleteNamespace(e.Name()); err != nil {
			n.log.Debug("netfault: cannot delete a stale namespace", slog.String("netns", e.Name()), slog.String("err", err.Error()))
		}
	}
}

// deleteNamespace kills the processes inside namespace ns (but never this
// one, whose threads may visit it) and deletes it. Processes that Host.Command
// started but that have not entered the namespace yet are killed first:
// "ip netns pids" cannot see them, and one that entered after the listing
// would run on in a namespace nobody can reach.
func (n *Network) deleteNamespace(ns string) error {
	for _, pid := range enteringPIDs(ns) {
		killProcess(pid)
	}
	out, err := n.output(n.ipPath, "netns", "pids", ns)
	if err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 && pid != os.Getpid() {
				killProcess(pid)
			}
		}
	}
	return n.ip("netns", "del", ns)
}

// Close kills every process still running in the network's namespaces
// (started with Host.Command or otherwise) and deletes the namespaces.
// Sockets this process opened in them (Host.Listen, Host.DialContext) stay
// open but lose their network. Calls after the first return nil.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, h := range n.hosts {
		errs = append(errs, n.deleteNamespace(h.ns))
	}
	errs = append(errs, n.deleteNamespace(n.name))
	return errors.Join(errs...)
}

// ip runs the ip command with args.
func (n *Network) ip(args ...string) error {
	_, err := n.output(n.ipPath, args...)
	return err
}

// output runs path with args and returns its combined output.
func (n *Network) output(path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...) //nolint:gosec // ip or tc, found with exec.LookPath
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	n.log.Debug("netfault: command", slog.String("cmd", path+" "+strings.Join(args, " ")), slog.Bool("ok", err == nil))
	if err != nil {
		return out.String(), &CommandError{Args: slices.Concat([]string{path}, args), Output: out.String(), Err: err}
	}
	return out.String(), nil
}
