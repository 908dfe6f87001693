package h1

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWireFormat checks the exact bytes of requests on the wire.
func TestWireFormat(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T, base string) *http.Request
		want string // %s is the server's host:port
	}{
		{
			name: "GET",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/p?q=1", nil)
				r.Header.Set("X-A", "1")
				return r
			},
			want: "GET /p?q=1 HTTP/1.1\r\nHost: %s\r\nX-A: 1\r\n\r\n",
		},
		{
			name: "Host from req.Host",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/", nil)
				r.Host = "example.com:8080"
				return r
			},
			want: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
		},
		{
			name: "empty User-Agent omitted",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/", nil)
				r.Header.Set("User-Agent", "")
				return r
			},
			want: "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
		},
		{
			name: "User-Agent kept",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/", nil)
				r.Header.Set("User-Agent", "ua/1")
				return r
			},
			want: "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: ua/1\r\n\r\n",
		},
		{
			name: "POST without body",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodPost, base+"/", nil)
			},
			want: "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "PUT with NoBody",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodPut, base+"/", http.NoBody)
			},
			want: "PUT / HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "DELETE without body",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodDelete, base+"/x", nil)
			},
			want: "DELETE /x HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "HEAD without body",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodHead, base+"/", nil)
			},
			want: "HEAD / HTTP/1.1\r\nHost: %s\r\n\r\n",
		},
		{
			name: "POST with a known length",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodPost, base+"/u", strings.NewReader("hello world"))
			},
			want: "POST /u HTTP/1.1\r\nHost: %s\r\nContent-Length: 11\r\n\r\nhello world",
		},
		{
			name: "req.Close",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/", nil)
				r.Close = true
				return r
			},
			want: "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		},
		{
			name: "req.Close with a Connection: close header already",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/", nil)
				r.Close = true
				r.Header.Set("Connection", "close")
				return r
			},
			want: "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		},
		{
			name: "Opaque",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/", nil)
				r.URL.Opaque = "/a%2Fb"
				return r
			},
			want: "GET /a%2Fb HTTP/1.1\r\nHost: %s\r\n\r\n",
		},
		{
			name: "Opaque starting with //",
			req: func(t *testing.T, base string) *http.Request {
				r := newReq(t, context.Background(), http.MethodGet, base+"/", nil)
				r.URL.Opaque = "//other/x"
				return r
			},
			want: "GET http://other/x HTTP/1.1\r\nHost: %s\r\n\r\n",
		},
		{
			name: "ForceQuery",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodGet, base+"/p?", nil)
			},
			want: "GET /p? HTTP/1.1\r\nHost: %s\r\n\r\n",
		},
		{
			name: "empty path",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodGet, base, nil)
			},
			want: "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
		},
		{
			name: "escaped path",
			req: func(t *testing.T, base string) *http.Request {
				return newReq(t, context.Background(), http.MethodGet, base+"/a%20b/c%2Fd", nil)
			},
			want: "GET /a%20b/c%2Fd HTTP/1.1\r\nHost: %s\r\n\r\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			s := newRawServer(t, replyLoop(okReply, got))
			tr := newTransport(t, nil)
			req := tc.req(t, "http://"+s.addr())
			if body := mustDo(t, tr, req); body != "ok" && req.Method != http.MethodHead {
				t.Errorf("body %q, want ok", body)
			}
			want := strings.ReplaceAll(tc.want, "%s", s.addr())
			if diff := cmp.Diff(want, <-got); diff != "" {
				t.Errorf("request on the wire (-want +got):\n%s", diff)
			}
		})
	}
}

func mustDo(t *testing.T, tr http.RoundTripper, req *http.Request) string {
	t.Helper()
	resp, body, err := do(t, tr, req) //nolint:bodyclose // do closes it
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, want 200", req.Method, req.URL, resp.StatusCode)
	}
	return body
}

// TestWireHeaders checks that every header field goes out once, in any
// order, and that the fields the transport writes itself are not doubled.
func TestWireHeaders(t *testing.T) {
	got := make(chan string, 1)
	s := newRawServer(t, replyLoop(okReply, got))
	tr := newTransport(t, nil)
	req := newReq(t, context.Background(), http.MethodPost, s.url("/"), strings.NewReader("abc"))
	req.Header.Set("Host", "ignored.example")
	req.Header.Set("Content-Length", "999")
	req.Header.Set("Transfer-Encoding", "gzip")
	req.Header.Set("Trailer", "X")
	req.Header["X-Multi"] = []string{"a", " b "}
	req.Header.Set("Accept", "*/*")
	mustDo(t, tr, req)
	raw := <-got
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	if lines[0] != "POST / HTTP/1.1" {
		t.Errorf("request line %q", lines[0])
	}
	fields := map[string]int{}
	for _, l := range lines[1:] {
		fields[l]++
	}
	want := map[string]int{
		"Host: " + s.addr(): 1,
		"X-Multi: a":        1,
		"X-Multi: b":        1,
		"Accept: */*":       1,
		"Content-Length: 3": 1,
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("header fields (-want +got):\n%s", diff)
	}
	if body != "abc" {
		t.Errorf("body %q, want abc", body)
	}
}

// TestWireChunked sends a body of unknown length, which goes chunked, and
// checks that net/http's server receives exactly its bytes.
func TestWireChunked(t *testing.T) {
	type got struct {
		te   []string
		cl   int64
		body []byte
	}
	ch := make(chan got, 1)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("server read: %v", err)
		}
		ch <- got{r.TransferEncoding, r.ContentLength, b}
	}))
	defer s.Close()
	tr := newTransport(t, nil)
	want := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80 KB: several chunks
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(want); i += 7000 {
			_, _ = pw.Write(want[i:min(i+7000, len(want))])
		}
		_ = pw.Close()
	}()
	req := newReq(t, context.Background(), http.MethodPost, s.URL, pr)
	if req.ContentLength != 0 {
		t.Fatalf("ContentLength %d", req.ContentLength)
	}
	req.ContentLength = -1
	mustDo(t, tr, req)
	g := <-ch
	if diff := cmp.Diff([]string{"chunked"}, g.te); diff != "" {
		t.Errorf("TransferEncoding (-want +got):\n%s", diff)
	}
	if g.cl != -1 {
		t.Errorf("server ContentLength %d, want -1", g.cl)
	}
	if !bytes.Equal(g.body, want) {
		t.Errorf("server got %d bytes, want the %d sent", len(g.body), len(want))
	}
	// The connection is reused after a chunked request.
	mustGet(t, tr, s.URL)
	if d := tr.Dials(); d != 1 {
		t.Errorf("Dials %d, want 1", d)
	}
}

// TestWireChunkedRaw checks the chunked framing byte by byte.
func TestWireChunkedRaw(t *testing.T) {
	got := make(chan string, 1)
	s := newRawServer(t, replyLoop(okReply, got))
	tr := newTransport(t, nil)
	req := newReq(t, context.Background(), http.MethodPut, s.url("/c"), io.NopCloser(strings.NewReader("hello")))
	req.ContentLength = -1
	mustDo(t, tr, req)
	want := "PUT /c HTTP/1.1\r\nHost: " + s.addr() + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("request on the wire (-want +got):\n%s", diff)
	}
}

// TestReqCloseNotReused checks that a request with Close set does not leave
// its connection in the pool.
func TestReqCloseNotReused(t *testing.T) {
	s := newRawServer(t, replyLoop(okReply, nil))
	tr := newTransport(t, nil)
	req := newReq(t, context.Background(), http.MethodGet, s.url("/"), nil)
	req.Close = true
	mustDo(t, tr, req)
	mustGet(t, tr, s.url("/"))
	if d, a := tr.Dials(), s.accepts.Load(); d != 2 || a != 2 {
		t.Errorf("Dials %d, server accepts %d; want 2 and 2", d, a)
	}
}
