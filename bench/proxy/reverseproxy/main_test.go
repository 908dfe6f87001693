package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseBackends(t *testing.T) {
	tests := []struct {
		in      string
		want    string // hosts joined by spaces
		wantErr bool
	}{
		{"127.0.0.1:1,127.0.0.1:2", "127.0.0.1:1 127.0.0.1:2", false},
		{" 127.0.0.1:1 , ,127.0.0.1:2,", "127.0.0.1:1 127.0.0.1:2", false},
		{"", "", true},
		{"127.0.0.1", "", true},
	}
	for _, tt := range tests {
		got, err := parseBackends(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseBackends(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		var hosts []string
		for _, u := range got {
			hosts = append(hosts, u.Host)
		}
		if s := strings.Join(hosts, " "); s != tt.want {
			t.Errorf("parseBackends(%q): got %q, want %q", tt.in, s, tt.want)
		}
	}
}

// TestRoundRobin sends six requests through the proxy to three backends and
// checks that they were served in turn.
func TestRoundRobin(t *testing.T) {
	var targets []*url.URL
	for i := range 3 {
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = fmt.Fprint(w, i)
		}))
		s.Start()
		t.Cleanup(s.Close)
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, u)
	}
	p := newProxy(targets)
	front := httptest.NewServer(p)
	defer front.Close()
	defer p.Transport.(*http.Transport).CloseIdleConnections()

	var got strings.Builder
	for range 6 {
		resp, err := front.Client().Get(front.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got.Write(b)
	}
	if want := "012012"; got.String() != want {
		t.Errorf("backends in order: got %q, want %q", got.String(), want)
	}
}
