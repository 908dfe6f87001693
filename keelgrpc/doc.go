// Package keelgrpc applies Keel's policies to gRPC: client interceptors that
// retry, break circuits, bound concurrency and time attempts, for unary calls
// and streams; server interceptors that recover panics and admit calls
// through a bulkhead, a rate limit or any keel.Policy; and one mapping from
// Keel's errors to gRPC status codes, CodeOf.
//
// # Client
//
// A Client is built once from a ClientConfig and gives a unary and a stream
// interceptor that share its policies:
//
//	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
//		Retry:    &retry.Config{MaxAttempts: 3},
//		Breaker:  &breaker.Config{},
//		Bulkhead: &bulkhead.Config{MaxConcurrent: 64},
//		Timeout:  2 * time.Second,
//	})
//	conn, err := grpc.NewClient(target,
//		grpc.WithTransportCredentials(creds),
//		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()),
//		grpc.WithChainStreamInterceptor(c.StreamClientInterceptor()))
//
// A unary call runs as retry(breaker(bulkhead(timeout(call)))). Policies are
// immutable and every call keeps its state to itself, so one Client serves
// any number of concurrent calls; the caller's context, with its values and
// deadline, reaches the call unchanged (a per-attempt timeout can only make
// the deadline sooner, and gRPC sends the deadline to the server).
//
// Retries are judged by status code (NewClassifier): Unavailable is retried
// (ClientConfig.RetryableCodes adds others), ResourceExhausted only when the
// server sends a valid grpc-retry-pushback-ms trailer, DeadlineExceeded only
// when the caller's own deadline has not passed, and the caller's
// cancellation never. The pushback trailer (gRPC proposal A6) is honored:
// a value of n milliseconds becomes a keel retry-after hint, so the next
// attempt waits at least n ms; a negative or malformed value stops retrying.
// Breakers count only what reflects on the server (ClassifyBreaker):
// Unavailable, Internal, DeadlineExceeded and the like are failures,
// InvalidArgument or NotFound are not.
//
// Streams get the same policies with stream semantics (see
// Client.StreamClientInterceptor): a bulkhead permit is held for the
// stream's lifetime and returned exactly once; the breaker outcome is
// recorded when the stream ends; retries happen only before the first
// response message.
//
// Unary calls of idempotent methods (ClientConfig.HedgeMethods or HedgeIf)
// can be hedged (ClientConfig.Hedge, package hedge):
// retry(hedge(breaker(bulkhead(timeout(call))))). Every call carries the
// criticality of its context (package shed) in the CriticalityKey metadata,
// which the server interceptors put back into the handler's context, where a
// *shed.Shedder in ServerConfig.Admission finds it.
//
// Do not enable gRPC's own retries (a retryPolicy in the service config) for
// the same methods: both would retry, and the attempts would multiply.
//
// # Server
//
// A Server recovers panics into codes.Internal (ErrPanic) and runs every
// call inside ServerConfig.Admission. A rejection (or any Keel error the
// handler returns) becomes the status CodeOf chooses, with its retry-after
// hint sent as grpc-retry-pushback-ms, so that Keel clients, and gRPC's own
// retry, wait as long as the server asks.
//
// # Telemetry
//
// The package imports no telemetry library. Policies report events to
// ClientConfig.Observer (or their own); gRPC stats handlers such as
// OpenTelemetry's otelgrpc compose with the interceptors unchanged.
package keelgrpc
