package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// admin talks to the gateway's admin API.
type admin struct {
	base   string // http://host:port
	token  string
	client *http.Client
}

func newAdmin(addr, token string) *admin {
	return &admin{
		base:  "http://" + addr,
		token: token,
		client: &http.Client{
			Timeout:   2 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true},
		},
	}
}

func (a *admin) close() { a.client.CloseIdleConnections() }

// do sends a request and decodes a JSON answer into out (if not nil).
func (a *admin) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// event adds an outside event to the gateway's timeline.
func (a *admin) event(ctx context.Context, kind, detail string) error {
	return a.do(ctx, http.MethodPost, "/events", map[string]string{"kind": kind, "detail": detail}, nil)
}

// fault adds a fault (a chaos.Fault in JSON) to the gateway.
func (a *admin) fault(ctx context.Context, f map[string]any) error {
	return a.do(ctx, http.MethodPost, "/faults", f, nil)
}

// gatewayEvent is the part of a gateway event the demo reads.
type gatewayEvent struct {
	Seq  uint64 `json:"seq"`
	Kind string `json:"kind"`
}

func (a *admin) events(ctx context.Context, since uint64) ([]gatewayEvent, error) {
	var out []gatewayEvent
	err := a.do(ctx, http.MethodGet, "/events?since="+strconv.FormatUint(since, 10), nil, &out)
	return out, err
}

// status is the part of the gateway's /status the demo reads.
type status struct {
	Upstreams []struct {
		Name  string `json:"name"`
		Hosts []struct {
			Address string `json:"address"`
			Healthy bool   `json:"healthy"`
			Ejected bool   `json:"ejected"`
			Breaker string `json:"breaker"`
		} `json:"hosts"`
	} `json:"upstreams"`
}

func (a *admin) status(ctx context.Context) (status, error) {
	var s status
	err := a.do(ctx, http.MethodGet, "/status", nil, &s)
	return s, err
}

// openBreakers counts the hosts whose breaker is open.
func (s status) openBreakers() int {
	n := 0
	for _, u := range s.Upstreams {
		for _, h := range u.Hosts {
			if h.Breaker == "open" {
				n++
			}
		}
	}
	return n
}

// counters sums the gateway's Prometheus counters whose names are in
// names, over all their label sets.
func (a *admin) counters(ctx context.Context, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return sumCounters(resp.Body, names...)
}

// sumCounters reads the Prometheus text format from r and sums the samples
// of each named metric.
func sumCounters(r io.Reader, names ...string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		for _, n := range names {
			if !strings.HasPrefix(line, n) || len(line) == len(n) || (line[len(n)] != '{' && line[len(n)] != ' ') {
				continue
			}
			rest := line[len(n):]
			if rest[0] == '{' { // labels; a value may hold '}' only inside quotes, which the gateway's never do
				j := strings.LastIndexByte(rest, '}')
				if j < 0 {
					return nil, fmt.Errorf("metric line %q: unterminated labels", line)
				}
				rest = rest[j+1:]
			}
			f := strings.Fields(rest) // value, then an optional timestamp
			if len(f) == 0 {
				return nil, fmt.Errorf("metric line %q: no value", line)
			}
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return nil, fmt.Errorf("metric line %q: %w", line, err)
			}
			out[n] += v
		}
	}
	return out, sc.Err()
}
