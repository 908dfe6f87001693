package keelgrpc

import (
	"context"

	"google.golang.org/grpc/metadata"

	"github.com/keelhq/keel/shed"
)

// CriticalityKey is the metadata key that carries a call's criticality for
// load shedding: "critical", "default" or "sheddable" (also
// "critical_plus" and "sheddable_plus"; see shed.ParseCriticality). It is
// keelhttp.CriticalityHeader in lower case, as gRPC metadata keys are.
//
// The server interceptors put the first value into the handler's context
// (and the admission policy's) with shed.WithCriticality, so that a
// *shed.Shedder in ServerConfig.Admission refuses sheddable calls first; an
// unknown value counts as shed.Default, and a call without the key carries
// no criticality (also Default). The client interceptors send the
// criticality of the call's context (shed.CriticalityFrom) when it is not
// Default; a value the caller put in the outgoing metadata itself comes
// first, so it wins.
//
// The key is a client's claim: a server facing untrusted clients should
// overwrite it in an earlier interceptor.
const CriticalityKey = "keel-criticality"

// incomingCriticality returns ctx carrying the criticality of its incoming
// metadata, or ctx itself when there is none.
func incomingCriticality(ctx context.Context) context.Context {
	v := metadata.ValueFromIncomingContext(ctx, CriticalityKey)
	if len(v) == 0 || v[0] == "" {
		return ctx
	}
	c, _ := shed.ParseCriticality(v[0]) // unknown values are Default
	return shed.WithCriticality(ctx, c)
}

// outgoingCriticality returns ctx with the criticality it carries added to
// its outgoing metadata, or ctx itself for Default.
func outgoingCriticality(ctx context.Context) context.Context {
	c := shed.CriticalityFrom(ctx)
	if c == shed.Default {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, CriticalityKey, c.String())
}
