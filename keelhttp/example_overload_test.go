package keelhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/shed"
)

// Shedding by criticality: with half of a shedder's capacity taken, a
// sheddable request is refused with 503 and Retry-After while a critical
// one is served. The class comes from the Keel-Criticality header.
func ExampleMiddlewareConfig_shedding() {
	sh := shed.MustNew(shed.Config{Capacity: 4}) // sheddable below 2 in flight, default below 3
	h, _ := keelhttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, shed.CriticalityFrom(r.Context()))
	}), keelhttp.MiddlewareConfig{Admission: sh})

	// Two requests elsewhere in the server hold their places.
	t1, _ := sh.AdmitClass(context.Background(), shed.Critical)
	defer t1.Done()
	t2, _ := sh.AdmitClass(context.Background(), shed.Critical)
	defer t2.Done()
	for _, class := range []string{"sheddable", "critical", "nonsense"} {
		r := httptest.NewRequest(http.MethodGet, "/search", nil)
		r.Header.Set(keelhttp.CriticalityHeader, class)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%-9s -> %d Retry-After=%q %s\n", class, w.Code, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"))
	}
	// Output:
	// sheddable -> 503 Retry-After="1" application/problem+json
	// critical  -> 200 Retry-After="" text/plain; charset=utf-8
	// nonsense  -> 200 Retry-After="" text/plain; charset=utf-8
}

// Hedging: the first attempt is slow, so after the delay a second one is
// sent with the same Idempotency-Key, wins, and the first is canceled.
func ExampleTransportConfig_hedge() {
	var n atomic.Int32
	keys := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys <- r.Header.Get(keelhttp.IdempotencyKeyHeader)
		if n.Add(1) == 1 {
			<-r.Context().Done() // slow until the hedge wins and cancels it
			return
		}
		_, _ = fmt.Fprint(w, "from the hedge")
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:  base,
		Hedge: &hedge.Config{Delay: 10 * time.Millisecond, DisableBudget: true},
	})}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	req.Header.Set(keelhttp.IdempotencyKeyHeader, "order-42") // makes the POST safe to hedge
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("keys:", <-keys, <-keys)
	// Output:
	// 200 from the hedge
	// keys: order-42 order-42
}
