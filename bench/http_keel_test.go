package bench

import (
	"net/http"
	"testing"

	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/retry"
)

func init() {
	httpGET = append([]contender{{"keel", benchHTTPKeel}}, httpGET...)
}

// benchHTTPKeel sends through keelhttp.Transport with its defaults (per-host
// breaker, retry budget, deadline header) and the shared retry settings.
func benchHTTPKeel(b *testing.B) {
	srv := httpServer()
	defer srv.Close()
	base := newBaseTransport()
	defer base.CloseIdleConnections()
	rt := keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:  base,
		Retry: retry.Config{MaxAttempts: maxAttempts}, // backoff: 100ms doubling to 10s, as the others

	})
	runHTTPGet(b, &http.Client{Transport: rt}, srv.URL)
}
