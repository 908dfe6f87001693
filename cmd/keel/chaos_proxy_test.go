package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"go.uber.org/goleak"

	"github.com/keelhq/keel/keeltest"
)

func TestChaosProxyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"name":"x"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-config", filepath.Join(dir, "missing.json")}, "-config: open"},
		{[]string{"-config", bad}, "-config: tcpproxy: bad request: missing required field: upstream at proxy 1"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		code := run(t.Context(), e, append([]string{"chaos", "proxy"}, tt.args...))
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("keel chaos proxy %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr.String(), exitUsage, tt.want)
		}
	}
}

// TestChaosProxyRun starts the command with a config file, drives it with
// the Toxiproxy client, and stops it by canceling its context.
func TestChaosProxyRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer http.DefaultClient.CloseIdleConnections() // the Toxiproxy client's
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer func() { _ = up.Close() }()
	wg.Go(func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello"))
			_ = c.Close()
		}
	})
	cfg := filepath.Join(t.TempDir(), "proxies.json")
	conf := `[{"name":"svc","listen":"127.0.0.1:0","upstream":"` + up.Addr().String() + `"}]`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr keeltest.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	codec := make(chan int, 1)
	go func() {
		codec <- run(ctx, e, []string{"chaos", "proxy", "-listen", "127.0.0.1:0", "-config", cfg, "-seed", "7"})
	}()

	addrRE := regexp.MustCompile(`control API listening" addr=(\S+) seed=7 proxies=1`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("no listening line in stderr: %s", stderr.String())
	}

	client := toxiproxy.NewClient(addr)
	p, err := client.Proxy("svc")
	if err != nil || !p.Enabled {
		t.Fatalf("Proxy(svc): got %+v, %v; want the proxy from the config file, enabled", p, err)
	}
	c, err := net.Dial("tcp", p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	_ = c.Close()
	if string(got) != "hello" || err != nil {
		t.Errorf("through the proxy: got %q, %v; want hello", got, err)
	}
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", p.Listen); err == nil {
		_ = c.Close()
		t.Error("proxy disabled, but it still accepts connections")
	}

	cancel()
	select {
	case code := <-codec:
		if code != exitOK {
			t.Errorf("exit %d after cancel, want %d; stderr: %s", code, exitOK, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("keel chaos proxy did not stop after its context was canceled")
	}
	if !strings.Contains(stderr.String(), "tcpproxy: proxy stopped") {
		t.Errorf("stderr does not say the proxy stopped: %s", stderr.String())
	}
}
