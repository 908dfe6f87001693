package keelhttp

import (
	"context"
	"net/http"

	"github.com/keelhq/keel/shed"
)

// CriticalityHeader is the request header that carries a request's
// criticality for load shedding: "critical", "default" or "sheddable" (also
// "critical_plus" and "sheddable_plus"; see shed.ParseCriticality). The
// Middleware puts the value into the request's context with
// shed.WithCriticality, so that an Admission policy containing a
// *shed.Shedder refuses sheddable requests first; a value it does not know
// counts as shed.Default, and a request without the header carries no
// criticality (which also means Default). The Transport sends the
// criticality of each request's context (shed.CriticalityFrom) in this
// header when it is not Default and the request does not set the header
// itself, so a criticality chosen at the edge follows the call downstream.
//
// The header is a client's claim: a server that faces untrusted clients
// should strip or overwrite it before the Middleware sees it.
const CriticalityHeader = "Keel-Criticality"

// withCriticality returns ctx carrying the criticality of r's
// CriticalityHeader, or ctx itself when r has none.
func withCriticality(ctx context.Context, r *http.Request) context.Context {
	v := r.Header.Get(CriticalityHeader)
	if v == "" {
		return ctx
	}
	c, _ := shed.ParseCriticality(v) // unknown values are Default
	return shed.WithCriticality(ctx, c)
}

// criticalityValue returns the header value for the criticality ctx
// carries, or "" for Default, which is not sent.
func criticalityValue(ctx context.Context) string {
	switch shed.CriticalityFrom(ctx) {
	case shed.Critical:
		return "critical"
	case shed.Sheddable:
		return "sheddable"
	}
	return ""
}
