package idempotency_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/memstore"
)

func ExampleNew() {
	charges := 0
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		charges++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"charge":%d}`, charges)
	})
	m := idempotency.MustNew(idempotency.Config{Store: memstore.New(), RequireKey: true})
	h := m.Wrap(api)

	send := func(key, body string) {
		r := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(body))
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		resp := w.Result()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Content-Type") == "application/problem+json" {
			var p struct{ Type string }
			_ = json.Unmarshal(b, &p)
			b = []byte(p.Type[len(idempotency.ProblemTypeBase):])
		}
		fmt.Printf("%d replayed=%q %s\n", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), b)
	}
	send("order-1", `{"amount":10}`)   // runs the handler
	send(`"order-1"`, `{"amount":10}`) // the same key, quoted: replayed
	send("order-1", `{"amount":99}`)   // the same key, another payload
	send("", `{"amount":10}`)          // no key where one is required
	fmt.Println("charges:", charges)
	// Output:
	// 201 replayed="" {"charge":1}
	// 201 replayed="true" {"charge":1}
	// 422 replayed="" idempotency-key-reused
	// 400 replayed="" idempotency-key-missing
	// charges: 1
}

func ExampleParseKey() {
	for _, v := range []string{`"8e03978e-40d5"`, `8e03978e-40d5`, `a, b`, `""`} {
		key, err := idempotency.ParseKey([]string{v})
		fmt.Printf("%-16s %q %v\n", v, key, err)
	}
	// Output:
	// "8e03978e-40d5"  "8e03978e-40d5" <nil>
	// 8e03978e-40d5    "8e03978e-40d5" <nil>
	// a, b             "" idempotency: key invalid: neither a structured-field string nor a token
	// ""               "" idempotency: key invalid: empty
}

func ExampleCanonicalQuery() {
	fmt.Println(idempotency.CanonicalQuery("z=1&a=hello%20world&a=2&flag"))
	// Output: a=hello+world&a=2&flag=&z=1
}

func ExamplePersistence_Stores() {
	for _, p := range []idempotency.Persistence{idempotency.SafeDefault, idempotency.StripeV1} {
		fmt.Print(p, ":")
		for _, status := range []int{201, 401, 422, 429, 500} {
			fmt.Print(" ", status, "=", p.Stores(status))
		}
		fmt.Println()
	}
	// Output:
	// safe-default: 201=true 401=true 422=true 429=false 500=false
	// stripe-v1: 201=true 401=false 422=true 429=false 500=true
}

func ExampleCredentialScope() {
	r := httptest.NewRequest(http.MethodPost, "/charges", nil)
	anon, _ := idempotency.CredentialScope(r)
	r.Header.Set("Authorization", "Bearer sk_test_123")
	scoped, _ := idempotency.CredentialScope(r)
	fmt.Println(anon, scoped[:5], len(scoped))
	// Output: anonymous auth: 37
}
