package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/keelhq/keel/gateway/upstream"
)

func ExampleNew() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from "+r.Host) //nolint:gosec // a test server echoing to a test client
	}))
	defer srv.Close()

	pool, err := upstream.New(upstream.Config{
		Name:    "api",
		Targets: []string{srv.Listener.Addr().String()},
	})
	if err != nil {
		panic(err)
	}
	defer func() { _ = pool.Close(context.Background()) }()

	// The pool is an http.RoundTripper: one attempt per call. The Host
	// header stays the caller's.
	client := &http.Client{Transport: pool}
	resp, err := client.Get("http://api.internal/")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello from api.internal
}

func ExamplePool_Drain() {
	pool := upstream.MustNew(upstream.Config{
		Name:    "api",
		Targets: []string{"127.0.0.1:8081"},
		OnEvent: func(e upstream.Event) {
			fmt.Println(e.Kind, e.Host, e.Reason)
		},
	})
	defer func() { _ = pool.Close(context.Background()) }()

	if err := pool.Drain("127.0.0.1:8081", true); err != nil {
		panic(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://api.internal/", nil)
	resp, err := pool.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	fmt.Println(errors.Is(err, upstream.ErrNoHost))
	// Output:
	// added 127.0.0.1:8081 dns
	// drained 127.0.0.1:8081 admin
	// true
}

func ExamplePool_Status() {
	pool := upstream.MustNew(upstream.Config{
		Name:     "api",
		Targets:  []string{"127.0.0.1:8081", "127.0.0.1:8082"},
		Balancer: upstream.LeastRequest,
	})
	defer func() { _ = pool.Close(context.Background()) }()

	st := pool.Status()
	fmt.Println(st.Name, st.Balancer, st.Panic)
	for _, h := range st.Hosts {
		fmt.Println(h.Address, h.Healthy, h.Ejected, h.Drained)
	}
	// Output:
	// api least_request false
	// 127.0.0.1:8081 true false false
	// 127.0.0.1:8082 true false false
}

func ExampleWithAttemptTracker() {
	pool := upstream.MustNew(upstream.Config{
		Name:    "api",
		Targets: []string{"127.0.0.1:8081", "127.0.0.1:8082"},
	})
	defer func() { _ = pool.Close(context.Background()) }()

	// One tracker per request, before its first attempt: each retry then
	// goes to a host the request has not tried, while there is one.
	ctx := upstream.WithAttemptTracker(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.internal/", nil)
	_ = req // pass req to a retrying client whose Transport is pool
	fmt.Println("ok")
	// Output: ok
}
