package keelhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keelhttp"
)

// TestRequestInfoPattern checks that the end function of Start learns the
// ServeMux pattern that served the request, with and without an admission
// policy (which serves a copy of the request).
func TestRequestInfoPattern(t *testing.T) {
	passThrough := keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			return next(context.WithValue(ctx, traceKey{}, "x"), op) // a new context: the handler gets a copy
		}
	})
	for _, tc := range []struct {
		name      string
		admission keel.Policy
		path      string
		want      string
	}{
		{"matched", nil, "/orders/7", "GET /orders/{id}"},
		{"matched/admission", passThrough, "/orders/7", "GET /orders/{id}"},
		{"not found", nil, "/nothing", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("GET /orders/{id}", func(http.ResponseWriter, *http.Request) {})
			var got keelhttp.RequestInfo
			h := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
				Admission: tc.admission,
				Start: func(r *http.Request) (context.Context, func(keelhttp.RequestInfo)) {
					return context.WithValue(r.Context(), traceKey{}, "y"), func(ri keelhttp.RequestInfo) { got = ri }
				},
			}).Wrap(mux)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
			if got.Pattern != tc.want {
				t.Errorf("RequestInfo.Pattern: got %q, want %q", got.Pattern, tc.want)
			}
		})
	}
}
