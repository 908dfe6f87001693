package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/chaos/netfault"
	"github.com/keelhq/keel/chaos/netfault/netfaulttest"
)

// TestPartitionReplicaFromGateway runs the gateway and three backends as
// processes on hosts of their own (network namespaces joined by a bridge),
// cuts one backend off from the gateway with a real partition — its
// packets are dropped, so connections time out rather than fail fast — and
// checks that requests keep succeeding, that the cut-off host is ejected,
// and that it serves again after the partition heals.
func TestPartitionReplicaFromGateway(t *testing.T) {
	network := netfaulttest.New(t)
	gw := netfaulttest.AddHost(t, network, "gw")
	client := netfaulttest.AddHost(t, network, "client")
	var hosts []*netfault.Host
	var addrs []string
	for i := range 3 {
		h := netfaulttest.AddHost(t, network, fmt.Sprintf("b%d", i+1))
		addr := net.JoinHostPort(h.IP().String(), "8080")
		p := startProcess(t, "backend "+h.Name(), h.Command(backendBin, "-addr", addr, "-name", h.Name()))
		p.waitLine(t, "listening ", 10*time.Second)
		hosts, addrs = append(hosts, h), append(addrs, fmt.Sprintf("%q", addr))
	}
	gwAddr := net.JoinHostPort(gw.IP().String(), "8000")
	adminAddr := net.JoinHostPort(gw.IP().String(), "9901")
	dir := t.TempDir()
	path := filepath.Join(dir, "keel.yaml")
	yml := fmt.Sprintf(`listen: {address: %q}
admin: {address: %q, allow_remote: true, token: secret}
telemetry: {access_log: false}
upstreams:
  app:
    targets: [%s]
    balancer: least_request
    connect_timeout: 200ms
    outlier: {consecutive_connect_failures: 2, base_ejection_time: 1s, interval: 500ms}
routes:
  - name: app
    upstream: app
    timeout: 3s
    per_try_timeout: 400ms
    retry: {attempts: 3, backoff: 5ms, max_backoff: 20ms, on: [connect_failure, reset, timeout, 503], budget: 100%%}
`, gwAddr, adminAddr, strings.Join(addrs, ", "))
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startProcess(t, "gateway", gw.Command(keelBin, "gateway", "-c", path))
	g.waitLine(t, `"msg":"gateway started"`, 20*time.Second)

	tr := &http.Transport{DialContext: client.DialContext, MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 4 * time.Second}
	url := "http://" + gwAddr + "/x"
	var ok, failed atomic.Int64
	served := map[string]*atomic.Int64{}
	for _, h := range hosts {
		served[h.Name()] = new(atomic.Int64)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { // a steady 40 requests per second, at most 600 of them
		defer close(done)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for n := 0; n < 600; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			r := send(ctx, c, http.MethodGet, url, "", nil)
			if r.status == http.StatusOK {
				ok.Add(1)
				if n := served[backendOf(r.body)]; n != nil {
					n.Add(1)
				}
			} else if ctx.Err() == nil {
				failed.Add(1)
				t.Logf("request failed: %d %v %.200s", r.status, r.err, r.body)
			}
		}
	}()
	admin := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	hostState := func(addr string) (ejected bool, ejections int) {
		var st status
		r := send(t.Context(), admin, http.MethodGet, "http://"+adminAddr+"/status", "", nil)
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &st) != nil {
			return false, -1
		}
		h, _ := st.host(addr)
		return h.Ejected, h.Ejections
	}

	time.Sleep(time.Second) // all three serve
	cut := strings.Trim(addrs[0], `"`)
	if err := network.Partition(gw, hosts[0]); err != nil {
		t.Fatal(err)
	}
	t.Logf("partitioned %s from the gateway", hosts[0].Name())
	if !poll(5*time.Second, func() bool { e, _ := hostState(cut); return e }) {
		t.Errorf("%s was not ejected within 5s of the partition", cut)
	}
	time.Sleep(2 * time.Second)
	before := served[hosts[0].Name()].Load()
	if err := network.Heal(gw, hosts[0]); err != nil {
		t.Fatal(err)
	}
	t.Logf("healed")
	if !poll(8*time.Second, func() bool { return served[hosts[0].Name()].Load() > before }) {
		t.Errorf("%s served nothing within 8s of the heal", hosts[0].Name())
	}
	cancel()
	<-done
	if failed.Load() != 0 || ok.Load() < 100 {
		t.Errorf("%d requests failed, %d succeeded across the partition; want 0 failed", failed.Load(), ok.Load())
	}
	if _, n := hostState(cut); n < 1 {
		t.Errorf("ejections of %s: %d, want at least 1", cut, n)
	}
}
