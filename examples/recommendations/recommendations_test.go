package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/examples/internal/proctest"
	"github.com/keelhq/keel/examples/recommendations/service"
)

func decode(t *testing.T, r proctest.Response) service.Recommendations {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", r.Status, r.Body)
	}
	var out service.Recommendations
	if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return out
}

// TestPickGolden pins the items of one user: the demo and its users may rely
// on them staying the same from one build to the next.
func TestPickGolden(t *testing.T) {
	want := []service.Item{
		{ID: "item-0475", Score: 84}, {ID: "item-0632", Score: 78}, {ID: "item-0363", Score: 68}, {ID: "item-0461", Score: 49}, {ID: "item-0091", Score: 45},
	}
	if diff := cmp.Diff(want, service.Pick("u1", "v1", 5)); diff != "" {
		t.Errorf("service.Pick(u1, v1, 5) (-want +got):\n%s", diff)
	}
}

func TestPick(t *testing.T) {
	for _, n := range []int{1, 5, service.MaxItems} {
		items := service.Pick("user-x", "v3", n)
		if len(items) != n {
			t.Fatalf("service.Pick(n=%d) returned %d items", n, len(items))
		}
		seen := map[string]bool{}
		for i, it := range items {
			if seen[it.ID] {
				t.Errorf("n=%d: %s appears twice", n, it.ID)
			}
			seen[it.ID] = true
			if it.Score < 1 || it.Score > 100 {
				t.Errorf("n=%d: score %d of %s is not in [1, 100]", n, it.Score, it.ID)
			}
			if i > 0 && items[i-1].Score < it.Score {
				t.Errorf("n=%d: items not sorted by score: %v", n, items)
			}
		}
	}
	if cmp.Equal(service.Pick("a", "v1", 5), service.Pick("a", "v2", 5)) {
		t.Error("versions v1 and v2 gave the same items")
	}
	if cmp.Equal(service.Pick("a", "v1", 5), service.Pick("b", "v1", 5)) {
		t.Error("users a and b got the same items")
	}
}

// TestReplicasAgree runs two replicas of one version and one of another:
// the first two answer alike, apart from their names; the third differs.
func TestReplicasAgree(t *testing.T) {
	a := start(t, "-name", "rec-a", "-delay", "1ms")
	b := start(t, "-name", "rec-b", "-delay", "1ms")
	c := start(t, "-name", "rec-c", "-version", "v2", "-items", "3")

	ra := decode(t, a.Must(http.MethodGet, "/recommendations?user=u1", nil, ""))
	rb := decode(t, b.Must(http.MethodGet, "/recommendations?user=u1", nil, ""))
	rc := decode(t, c.Must(http.MethodGet, "/recommendations?user=u1", nil, ""))
	want := service.Recommendations{User: "u1", Version: "v1", Replica: "rec-a", Items: service.Pick("u1", "v1", 5)}
	if diff := cmp.Diff(want, ra); diff != "" {
		t.Errorf("replica a (-want +got):\n%s", diff)
	}
	want.Replica = "rec-b"
	if diff := cmp.Diff(want, rb); diff != "" {
		t.Errorf("replica b (-want +got):\n%s", diff)
	}
	want = service.Recommendations{User: "u1", Version: "v2", Replica: "rec-c", Items: service.Pick("u1", "v2", 3)}
	if diff := cmp.Diff(want, rc); diff != "" {
		t.Errorf("replica c, version v2 (-want +got):\n%s", diff)
	}
	if again := decode(t, a.Must(http.MethodGet, "/recommendations?user=u1", nil, "")); !cmp.Equal(ra, again) {
		t.Errorf("the same request twice gave %+v, then %+v", ra, again)
	}
	if r := a.Must(http.MethodGet, "/healthz", nil, ""); r.Status != http.StatusOK || r.Body != "ok\n" {
		t.Errorf("GET /healthz: got %d %q, want 200 \"ok\\n\"", r.Status, r.Body)
	}
}

func TestRequestErrors(t *testing.T) {
	p := start(t, "-delay", "2s")
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		want   int
		max    time.Duration
	}{
		{name: "no user", path: "/recommendations", want: http.StatusBadRequest, max: time.Second},
		{name: "user too long", path: "/recommendations?user=" + strings.Repeat("u", 65), want: http.StatusBadRequest, max: time.Second},
		{name: "deadline", path: "/recommendations?user=u1", header: map[string]string{"Keel-Deadline-Ms": "50"}, want: http.StatusGatewayTimeout, max: time.Second},
	} {
		start := time.Now()
		r := p.Must(http.MethodGet, tc.path, tc.header, "")
		if d := time.Since(start); r.Status != tc.want || d > tc.max {
			t.Errorf("%s: got %d after %v, want %d within %v (%s)", tc.name, r.Status, d, tc.want, tc.max, r.Body)
		}
	}
	if r := p.Must(http.MethodPost, "/recommendations?user=u1", nil, ""); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %d, want 405", r.Status)
	}
}

func TestChaosHeaders(t *testing.T) {
	fault := map[string]string{"X-Keel-Fault-Abort-Status": "503"}
	on := start(t, "-chaos-headers", "-delay", "0")
	if r := on.Must(http.MethodGet, "/recommendations?user=u1", fault, ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("with -chaos-headers, a request asking for 503 got %d", r.Status)
	}
	off := start(t, "-delay", "0")
	if r := off.Must(http.MethodGet, "/recommendations?user=u1", fault, ""); r.Status != http.StatusOK {
		t.Errorf("without -chaos-headers, a request asking for 503 got %d, want 200", r.Status)
	}
}

// TestDrain sends SIGTERM while a request is in flight: /healthz turns 503
// during the drain delay, the request completes, and the process exits 0.
func TestDrain(t *testing.T) {
	p := start(t, "-delay", "400ms", "-drain-delay", "1s")
	type result struct {
		r   proctest.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := p.Do(http.MethodGet, "/recommendations?user=u1", nil, "")
		done <- result{r, err}
	}()
	time.Sleep(100 * time.Millisecond) // let the request start; the drain delay covers a late one
	p.Signal(syscall.SIGTERM)
	// The drain delay is 1s: /healthz must turn 503 within it.
	if health := p.Poll("/healthz", http.StatusServiceUnavailable, 900*time.Millisecond); health != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz after SIGTERM: got %d, want 503", health)
	}
	if res := <-done; res.err != nil || res.r.Status != http.StatusOK {
		t.Errorf("request in flight at SIGTERM: %v %d %s, want 200", res.err, res.r.Status, res.r.Body)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-items", "0"},
		{"-delay", "-1ms"},
	} {
		out, err := command.Output(t, args...)
		if err == nil || !strings.Contains(out, "recommendations:") {
			t.Errorf("recommendations %v: %v, output %q; want exit status 1 and a message", args, err, out)
		}
	}
}
