package tcpproxy

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/google/go-cmp/cmp"
)

// TestClientAPI drives the control API with the official Toxiproxy client.
func TestClientAPI(t *testing.T) {
	e := newEnv(t)
	up := upstream(t, echo)
	p := e.proxy(t, "redis", up)
	if !p.Enabled || p.Upstream != up || strings.HasSuffix(p.Listen, ":0") {
		t.Fatalf("CreateProxy returned %+v, want enabled, upstream %s and a resolved listen address", p, up)
	}
	if _, err := e.client.CreateProxy("redis", "127.0.0.1:0", up); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("duplicate CreateProxy: got %v, want HTTP 409", err)
	}
	if _, err := e.client.Proxy("nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Proxy(nope): got %v, want HTTP 404", err)
	}

	tx, err := p.AddToxic("slow", "latency", "upstream", 0.5, toxiproxy.Attributes{"latency": 100, "jitter": 5})
	if err != nil {
		t.Fatal(err)
	}
	want := &toxiproxy.Toxic{Name: "slow", Type: "latency", Stream: "upstream", Toxicity: 0.5,
		Attributes: toxiproxy.Attributes{"latency": 100.0, "jitter": 5.0}}
	if diff := cmp.Diff(want, tx); diff != "" {
		t.Errorf("AddToxic (-want +got):\n%s", diff)
	}
	if _, err := p.AddToxic("", "latency", "sideways", 1, nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("invalid stream: got %v, want HTTP 400", err)
	}
	if _, err := p.AddToxic("", "explode", "", 1, nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("invalid type: got %v, want HTTP 400", err)
	}
	if _, err := p.AddToxic("slow", "latency", "", 1, nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("duplicate toxic: got %v, want HTTP 409", err)
	}
	bw, err := p.AddToxic("", "bandwidth", "", 1, toxiproxy.Attributes{"rate": 1000})
	if err != nil || bw.Name != "bandwidth_downstream" || bw.Stream != "downstream" {
		t.Errorf("default name and stream: got %+v, %v", bw, err)
	}
	up2, err := p.UpdateToxic("slow", -1, toxiproxy.Attributes{"latency": 200})
	if err != nil || up2.Attributes["latency"] != 200.0 || up2.Attributes["jitter"] != 5.0 || up2.Toxicity != 0.5 {
		t.Errorf("UpdateToxic: got %+v, %v; want latency 200, jitter and toxicity kept", up2, err)
	}
	if _, err := p.UpdateToxic("nope", 1, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("UpdateToxic(nope): got %v, want HTTP 404", err)
	}
	toxics, err := p.Toxics()
	if err != nil || len(toxics) != 2 {
		t.Errorf("Toxics: got %v, %v; want 2", toxics, err)
	}
	proxies, err := e.client.Proxies()
	if err != nil || len(proxies) != 1 || len(proxies["redis"].ActiveToxics) != 2 {
		t.Errorf("Proxies: got %v, %v; want redis with 2 toxics", proxies, err)
	}
	if err := p.RemoveToxic("bandwidth_downstream"); err != nil {
		t.Error(err)
	}
	if err := p.RemoveToxic("bandwidth_downstream"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("second RemoveToxic: got %v, want HTTP 404", err)
	}

	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.client.Proxy("redis"); got == nil || got.Enabled {
		t.Errorf("after Disable: got %+v, want disabled", got)
	}
	if err := e.client.ResetState(); err != nil {
		t.Fatal(err)
	}
	got, _ := e.client.Proxy("redis")
	if got == nil || !got.Enabled || len(got.ActiveToxics) != 0 {
		t.Errorf("after ResetState: got %+v, want enabled with no toxics", got)
	}

	pop, err := e.client.Populate([]toxiproxy.Proxy{
		{Name: "redis", Listen: got.Listen, Upstream: up, Enabled: true}, // unchanged
		{Name: "pg", Listen: "127.0.0.1:0", Upstream: up, Enabled: true},
	})
	if err != nil || len(pop) != 2 || pop[0].Listen != got.Listen || !pop[1].Enabled {
		t.Errorf("Populate: got %+v, %v", pop, err)
	}
	if _, err := e.client.Populate([]toxiproxy.Proxy{{Name: "x"}}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("Populate without upstream: got %v, want HTTP 400", err)
	}
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("second Delete: got %v, want HTTP 404", err)
	}
}

// TestAPIStatusCodes checks the raw status codes and shapes the clients rely
// on.
func TestAPIStatusCodes(t *testing.T) {
	e := newEnv(t)
	up := upstream(t, echo)
	tests := []struct {
		method, path, body string
		ua                 string
		status             int
		contains           string
	}{
		{"GET", "/version", "", "", 200, Version},
		{"POST", "/proxies", `{"name":"a","upstream":"` + up + `","listen":"127.0.0.1:0"}`, "", 201, `"enabled":true`},
		{"POST", "/proxies", `{"name":"a","upstream":"` + up + `"}`, "", 409, `"status":409`},
		{"POST", "/proxies", `{"upstream":"x"}`, "", 400, `"error":"missing required field: name"`},
		{"POST", "/proxies", `{"name":"b"}`, "", 400, "upstream"},
		{"POST", "/proxies", `{`, "", 400, "bad request body"},
		{"GET", "/proxies/a", "", "", 200, `"toxics":[]`},
		{"GET", "/proxies/zz", "", "", 404, `"error":"proxy not found`},
		{"POST", "/proxies/a/toxics", `{"type":"latency","attributes":{"latency":5}}`, "", 200, `"toxicity":1`},
		{"POST", "/proxies/a/toxics", `{"type":"latency","attributes":{"latency":1.5}}`, "", 400, "bad request body"},
		{"POST", "/proxies/a/toxics", `{"type":"slicer","name":"s","attributes":{}}`, "", 400, "average_size"},
		{"GET", "/proxies/a/toxics/latency_downstream", "", "", 200, `"attributes":{"jitter":0,"latency":5}`},
		{"PATCH", "/proxies/a/toxics/latency_downstream", `{"attributes":{"jitter":2}}`, "", 200, `"jitter":2,"latency":5`},
		{"GET", "/proxies/a/toxics", "", "", 200, `"name":"latency_downstream"`},
		{"DELETE", "/proxies/a/toxics/latency_downstream", "", "", 204, ""},
		{"DELETE", "/proxies/a/toxics/latency_downstream", "", "", 404, "toxic not found"},
		{"PATCH", "/proxies/a", `{"enabled":false}`, "", 200, `"enabled":false`},
		{"POST", "/reset", "", "", 204, ""},
		{"GET", "/proxies", "", "", 200, `"a":{"name":"a"`},
		{"POST", "/populate", `[{"name":"c","upstream":"` + up + `","listen":"127.0.0.1:0"}]`, "", 201, `{"proxies":[{"name":"c"`},
		{"DELETE", "/proxies/c", "", "", 204, ""},
		{"GET", "/proxies", "", "Mozilla/5.0", 403, "User agent not allowed"},
		{"PUT", "/proxies", "", "", 405, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(t.Context(), tt.method, e.api.URL+tt.path, strings.NewReader(tt.body))
		if tt.ua != "" {
			req.Header.Set("User-Agent", tt.ua)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.contains) {
			t.Errorf("%s %s: got %d %s, want %d containing %q", tt.method, tt.path, resp.StatusCode, b, tt.status, tt.contains)
		}
		if resp.StatusCode >= 400 && resp.StatusCode != 403 && resp.StatusCode != 405 {
			var ae apiError
			if err := json.Unmarshal(b, &ae); err != nil || ae.Status != resp.StatusCode {
				t.Errorf("%s %s: error body %s does not carry the status %d", tt.method, tt.path, b, resp.StatusCode)
			}
		}
	}
}

func FuzzToxicJSON(f *testing.F) {
	f.Add(`{"type":"latency","stream":"upstream","toxicity":0.5,"attributes":{"latency":10,"jitter":2}}`)
	f.Add(`{"type":"slicer","attributes":{"average_size":1,"size_variation":9,"delay":1}}`)
	f.Add(`{"type":"bandwidth","attributes":{"rate":-1}}`)
	f.Add(`{"name":"x","type":"limit_data","toxicity":2}`)
	f.Fuzz(func(t *testing.T, s string) {
		var tx Toxic
		if json.Unmarshal([]byte(s), &tx) != nil || tx.normalize() != nil {
			return
		}
		if tx.Name == "" || (tx.Stream != "upstream" && tx.Stream != "downstream") || tx.Toxicity < 0 || tx.Toxicity > 1 {
			t.Fatalf("normalized toxic %+v is not normal", tx)
		}
		for k, v := range tx.Attributes {
			if v < 0 {
				t.Fatalf("attribute %s = %d < 0", k, v)
			}
		}
		b, err := json.Marshal(tx)
		if err != nil {
			t.Fatal(err)
		}
		var back Toxic
		if err := json.Unmarshal(b, &back); err != nil || back.normalize() != nil || !cmp.Equal(back, tx) {
			t.Fatalf("round trip: %+v became %+v (%v)", tx, back, err)
		}
		_ = newToxic(tx)
	})
}
