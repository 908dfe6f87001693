package netfault_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keelhq/keel/chaos/netfault"
	"github.com/keelhq/keel/chaos/netfault/netfaulttest"
)

// startServer runs the test binary as an HTTP server process inside host h
// and waits until client, from another host, gets an answer.
func startServer(t *testing.T, h *netfault.Host, client *http.Client) string {
	t.Helper()
	addr := netip.AddrPortFrom(h.IP(), 8080).String()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := "http://" + addr + "/"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := get(client, url); err == nil {
			return url
		} else if time.Now().After(deadline) {
			t.Fatalf("server on %s not answering after 10s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func clientOn(t *testing.T, h *netfault.Host, timeout time.Duration) (*http.Client, *http.Transport) {
	tr := &http.Transport{DialContext: h.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}, tr
}

// TestPartitionAndHeal runs an HTTP server process on host a and clients on
// hosts b and c; it partitions a from b, checks that b's requests fail
// within the client timeout while c's still succeed, heals, and checks that
// b gets through again. Then the same with PartitionReject, which must fail
// at once.
func TestPartitionAndHeal(t *testing.T) {
	n := netfaulttest.New(t)
	a := netfaulttest.AddHost(t, n, "a")
	b := netfaulttest.AddHost(t, n, "b")
	c := netfaulttest.AddHost(t, n, "c")
	const timeout = 300 * time.Millisecond
	fromB, trB := clientOn(t, b, timeout)
	fromC, _ := clientOn(t, c, timeout)
	url := startServer(t, a, fromB)

	want := "pong from " + a.IP().String() + ":8080"
	if got, err := get(fromB, url); err != nil || got != want {
		t.Fatalf("before the partition: got %q, %v; want %q", got, err, want)
	}

	// The keep-alive connection from b is open: the partition must cut it
	// too, silently.
	if err := n.Partition(a, b); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the open connection, then a new one
		start := time.Now()
		_, err := get(fromB, url)
		took := time.Since(start)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("request %d across the partition: err = %v, want a timeout", i, err)
		}
		if took < timeout || took > timeout+time.Second {
			t.Errorf("request %d across the partition failed after %v, want after the client timeout %v (bounded)", i, took, timeout)
		}
	}
	if got, err := get(fromC, url); err != nil || got != want {
		t.Errorf("c during the a-b partition: got %q, %v; want %q", got, err, want)
	}

	if err := n.Heal(a, b); err != nil {
		t.Fatal(err)
	}
	if got, err := get(fromB, url); err != nil || got != want {
		t.Fatalf("after healing: got %q, %v; want %q", got, err, want)
	}

	trB.CloseIdleConnections()
	if err := n.PartitionReject(b, a); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := get(fromB, url)
	if took := time.Since(start); !errors.Is(err, syscall.EHOSTUNREACH) || took > timeout/2 {
		t.Errorf("request across a rejecting partition: %v after %v, want EHOSTUNREACH at once", err, took)
	}
	if err := n.Heal(a, b); err != nil {
		t.Fatal(err)
	}
	if got, err := get(fromB, url); err != nil || got != want {
		t.Fatalf("after healing the rejecting partition: got %q, %v; want %q", got, err, want)
	}
	if err := n.Heal(a, b); err != nil {
		t.Errorf("healing a healed pair: %v", err)
	}
}

// TestPartitionKeepsConnections checks that a partition drops packets
// rather than resetting connections: a TCP connection stalls while a and b
// are apart and carries data again once they are healed.
func TestPartitionKeepsConnections(t *testing.T) {
	n := netfaulttest.New(t)
	a := netfaulttest.AddHost(t, n, "a")
	b := netfaulttest.AddHost(t, n, "b")
	l, err := a.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer func() { _ = l.Close() }()
	wg.Go(func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_, _ = io.Copy(conn, conn) // echo
	})
	conn, err := b.DialContext(t.Context(), "tcp", netip.AddrPortFrom(a.IP(), 9000).String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	echo := func(msg string, wait time.Duration) error {
		if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
			return err
		}
		if _, err := conn.Write([]byte(msg)); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		if string(buf) != msg {
			return errors.New("echo mismatch: " + string(buf))
		}
		return nil
	}
	if err := echo("one", time.Second); err != nil {
		t.Fatalf("echo before the partition: %v", err)
	}
	if err := n.Partition(a, b); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if err := echo("two", 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("echo across the partition: %v, want a timeout", err)
	}
	if err := n.HealAll(); err != nil {
		t.Fatal(err)
	}
	// TCP retransmits "two"; then the echo of both arrives.
	if err := echo("", 0); err != nil && !errors.As(err, &ne) {
		t.Fatal(err)
	}
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "two" {
		t.Fatalf("after healing, the stalled echo is %q, %v; want \"two\"", buf, err)
	}
	if err := echo("three", time.Second); err != nil {
		t.Fatalf("echo after healing: %v", err)
	}
}

// TestBandwidth limits a's egress with tbf and measures a download from b.
func TestBandwidth(t *testing.T) {
	n := netfaulttest.New(t)
	a := netfaulttest.AddHost(t, n, "a")
	b := netfaulttest.AddHost(t, n, "b")
	l, err := a.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	defer func() { _ = l.Close() }()
	wg.Go(func() {
		zeros := make([]byte, 64<<10)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer func() { _ = conn.Close() }()
				stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
				defer stop()
				for {
					if _, err := conn.Write(zeros); err != nil {
						return
					}
				}
			})
		}
	})
	// measure downloads from a for d and returns the payload rate in
	// bytes per second, after a warm-up that drains the token bucket.
	measure := func(d time.Duration) float64 {
		t.Helper()
		conn, err := b.DialContext(ctx, "tcp", netip.AddrPortFrom(a.IP(), 9000).String())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		buf := make([]byte, 64<<10)
		read := func(until time.Time) int64 {
			var total int64
			for time.Now().Before(until) {
				if err := conn.SetReadDeadline(until); err != nil {
					t.Fatal(err)
				}
				k, err := conn.Read(buf)
				total += int64(k)
				if err != nil {
					break
				}
			}
			return total
		}
		read(time.Now().Add(300 * time.Millisecond))
		start := time.Now()
		got := read(start.Add(d))
		return float64(got) / time.Since(start).Seconds()
	}

	const rate = 1 << 20 // 1 MiB/s
	if err := n.Shape(a, netfault.Egress, netfault.Link{Rate: rate}); err != nil {
		t.Fatal(err)
	}
	got := measure(2 * time.Second)
	t.Logf("shaped to %d B/s: measured %.0f B/s (%.1f%%)", rate, got, 100*got/rate)
	if diff := (got - rate) / rate; diff < -0.10 || diff > 0.10 {
		t.Errorf("measured %.0f B/s with Rate %d B/s: off by %.1f%%, want within 10%%", got, rate, 100*diff)
	}

	// Shaping b's ingress limits the same download.
	if err := n.Shape(a, netfault.Egress, netfault.Link{}); err != nil {
		t.Fatal(err)
	}
	const rate2 = 512 << 10
	if err := n.Shape(b, netfault.Ingress, netfault.Link{Rate: rate2}); err != nil {
		t.Fatal(err)
	}
	got = measure(2 * time.Second)
	t.Logf("shaped to %d B/s: measured %.0f B/s (%.1f%%)", rate2, got, 100*got/rate2)
	if diff := (got - rate2) / rate2; diff < -0.10 || diff > 0.10 {
		t.Errorf("ingress: measured %.0f B/s with Rate %d B/s: off by %.1f%%, want within 10%%", got, rate2, 100*diff)
	}

	if err := n.Shape(b, netfault.Both, netfault.Link{}); err != nil {
		t.Fatal(err)
	}
	if got := measure(300 * time.Millisecond); got < 10*rate {
		t.Errorf("after removing the shaping: %.0f B/s, want well above %d", got, rate)
	}
}

// TestNetem checks that delay and loss either work (with netem) or fail
// with an UnsupportedError that says netem is missing.
func TestNetem(t *testing.T) {
	n := netfaulttest.New(t)
	a := netfaulttest.AddHost(t, n, "a")
	ok, err := n.NetemSupported()
	if err != nil {
		t.Fatal(err)
	}
	err = n.Shape(a, netfault.Egress, netfault.Link{Delay: 50 * time.Millisecond, Loss: 0.01})
	if ok {
		if err != nil {
			t.Fatalf("netem is supported but Shape failed: %v", err)
		}
		return
	}
	var ue *netfault.UnsupportedError
	if !errors.Is(err, netfault.ErrUnsupported) || !errors.As(err, &ue) {
		t.Fatalf("Shape with delay without netem: %v, want an UnsupportedError", err)
	}
	if ue.Qdisc != "netem" || ue.Fault != "delay and loss" || !strings.Contains(err.Error(), "netem") {
		t.Errorf("error %q (%+v) does not say that delay and loss need netem", err, ue)
	}
	t.Logf("without netem: %v", err)
	// Bandwidth alone still works.
	if err := n.Shape(a, netfault.Egress, netfault.Link{Rate: 1 << 20}); err != nil {
		t.Errorf("Shape with a rate only: %v", err)
	}
}

// TestCloseAndSweep checks that Close kills processes left in the hosts and
// deletes the namespaces, and that New deletes namespaces left behind by
// processes that have exited, but not those of running processes.
func TestCloseAndSweep(t *testing.T) {
	netfaulttest.Require(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := netfault.Prefix + strconv.Itoa(dead.Process.Pid) + "-1-stale"
	live := netfault.Prefix + "1-1-live" // pid 1 always runs
	for _, ns := range []string{stale, live} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", live).Run() })

	n, err := netfault.New(netfault.Config{Name: "sweep/test"})
	if err != nil {
		t.Fatal(err)
	}
	if exists(stale) {
		t.Errorf("New left the stale namespace %s", stale)
	}
	if !exists(live) {
		t.Errorf("New deleted %s, whose owner runs", live)
	}
	h, err := n.AddHost("h")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.Namespace(), netfault.Prefix+strconv.Itoa(os.Getpid())+"-") || !strings.HasSuffix(h.Namespace(), "-sweep_test-h") {
		t.Errorf("namespace %q, want keel-<pid>-<n>-sweep_test-h", h.Namespace())
	}
	out, err := h.Command("ip", "-br", "addr", "show", "eth0").Output()
	if err != nil || !strings.Contains(string(out), h.IP().String()+"/24") {
		t.Errorf("ip addr in the host: %q, %v; want %v/24", out, err, h.IP())
	}
	sleeper := h.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleeper.Wait() }()
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-waited:
		if ws := sleeper.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() {
			t.Errorf("the process in the host ended with %v, want killed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a process running in a host")
	}
	for _, ns := range []string{n.Name(), h.Namespace()} {
		if exists(ns) {
			t.Errorf("namespace %s exists after Close", ns)
		}
	}
	if _, err := n.AddHost("x"); !errors.Is(err, netfault.ErrClosed) {
		t.Errorf("AddHost after Close: %v, want ErrClosed", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func exists(ns string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", ns))
	return err == nil
}

// TestRunStaysInside checks that Run enters the host's namespace and that
// the calling process keeps its own: a listener on the host's loopback is
// not reachable from the process's loopback, and the other way round.
func TestRunStaysInside(t *testing.T) {
	n := netfaulttest.New(t)
	a := netfaulttest.AddHost(t, n, "a")
	inside, err := a.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = inside.Close() }()
	outside, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = outside.Close() }()
	for range 20 { // many threads come and go; none may stay inside
		var ifaces []net.Interface
		if err := a.Run(func() error {
			var err error
			ifaces, err = net.Interfaces()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(ifaces) != 2 {
			t.Fatalf("interfaces inside the host: %v, want lo and eth0", ifaces)
		}
		d := net.Dialer{Timeout: time.Second}
		c, err := d.Dial("tcp", outside.Addr().String())
		if err != nil {
			t.Fatalf("dialing the process's own loopback after Run: %v", err)
		}
		_ = c.Close()
	}
	if c, err := a.DialContext(t.Context(), "tcp", outside.Addr().String()); err == nil {
		_ = c.Close()
		t.Errorf("the host reached a listener on the process's loopback")
	}
	if c, err := a.DialContext(t.Context(), "tcp", inside.Addr().String()); err != nil {
		t.Errorf("the host cannot reach its own loopback listener: %v", err)
	} else {
		_ = c.Close()
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic from fn", r)
			}
		}()
		_ = a.Run(func() error { panic("boom") })
	}()
}

func TestArguments(t *testing.T) {
	n := netfaulttest.New(t)
	a := netfaulttest.AddHost(t, n, "a")
	other := netfaulttest.New(t)
	x := netfaulttest.AddHost(t, other, "x")
	for _, name := range []string{"", "A", "-a", "a_b", "sixteen-chars-xx"} {
		if _, err := n.AddHost(name); !errors.Is(err, netfault.ErrConfig) {
			t.Errorf("AddHost(%q): %v, want ErrConfig", name, err)
		}
	}
	if _, err := n.AddHost("a"); !errors.Is(err, netfault.ErrConfig) {
		t.Errorf("AddHost of an existing name: %v, want ErrConfig", err)
	}
	if err := n.Partition(a, a); !errors.Is(err, netfault.ErrConfig) {
		t.Errorf("Partition(a, a): %v, want ErrConfig", err)
	}
	if err := n.Partition(a, x); !errors.Is(err, netfault.ErrConfig) {
		t.Errorf("Partition with another network's host: %v, want ErrConfig", err)
	}
	if err := n.Shape(a, netfault.Both, netfault.Link{Loss: 2}); !errors.Is(err, netfault.ErrConfig) {
		t.Errorf("Shape with Loss 2: %v, want ErrConfig", err)
	}
	if _, err := netfault.New(netfault.Config{Subnet: netip.MustParsePrefix("fd00::/64")}); !errors.Is(err, netfault.ErrConfig) {
		t.Errorf("New with an IPv6 subnet: %v, want ErrConfig", err)
	}
	small, err := netfault.New(netfault.Config{Subnet: netip.MustParsePrefix("10.202.0.0/30")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = small.Close() }()
	for i, want := range []string{"10.202.0.1", "10.202.0.2", ""} {
		h, err := small.AddHost("h" + strconv.Itoa(i))
		switch {
		case want == "" && !errors.Is(err, netfault.ErrConfig):
			t.Errorf("third host in a /30: %v, want ErrConfig (full)", err)
		case want != "" && (err != nil || h.IP().String() != want):
			t.Errorf("host %d in a /30: %v, %v; want %s", i, h, err, want)
		}
	}
}

// TestUDPAcrossPartition sends datagrams from a process on b to a socket on
// a, before, during and after a partition.
func TestUDPAcrossPartition(t *testing.T) {
	n := netfaulttest.New(t)
	a := netfaulttest.AddHost(t, n, "a")
	b := netfaulttest.AddHost(t, n, "b")
	pc, err := a.ListenPacket("udp", ":9001")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	send := func(msg string) bool {
		t.Helper()
		// A separate process on b sends the datagram (bash's /dev/udp).
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		cmd := b.CommandContext(ctx, "bash", "-c", "echo -n "+msg+" > /dev/udp/"+a.IP().String()+"/9001")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("send from b: %v: %s", err, out)
		}
		if err := pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		k, from, err := pc.ReadFrom(buf)
		if err != nil {
			return false
		}
		if got := string(buf[:k]); got != msg || !strings.HasPrefix(from.String(), b.IP().String()+":") {
			t.Fatalf("received %q from %v, want %q from %v", got, from, msg, b.IP())
		}
		return true
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for /dev/udp")
	}
	if !send("before") {
		t.Fatal("datagram lost before the partition")
	}
	if err := n.Partition(a, b); err != nil {
		t.Fatal(err)
	}
	if send("during") {
		t.Fatal("datagram crossed the partition")
	}
	if err := n.Heal(a, b); err != nil {
		t.Fatal(err)
	}
	if !send("after") {
		t.Fatal("datagram lost after healing")
	}
}
