// Package h1 is the gateway's HTTP/1.1 client for plain-text upstreams: a
// keep-alive connection pool whose round trips run on the caller's
// goroutine.
//
// net/http's Transport gives every connection a reader and a writer
// goroutine and hands each request and response between them and the caller
// over channels: three or four goroutine switches per request. A proxy
// sends small requests and streams the answers, so here the caller writes
// the request and reads the response itself, and a connection goes back to
// the pool the moment its response body reaches EOF. Requests with a body
// are the exception: their body is written by a goroutine of its own, so
// that an upstream answering before it has read the whole body (a 413, say)
// is heard, as with net/http.
//
// Without a reader goroutine nothing notices that a server closed an idle
// connection. Two rules cover it, as net/http does in its own way: a
// connection idle for longer than Transport.ProbeAfter is checked with a
// non-blocking peek before it is reused, and a request that fails on a
// reused connection before any byte of an answer arrived is sent again on
// another connection when it can be replayed (no body, or a body GetBody
// can rewind; and an idempotent method or an Idempotency-Key header).
//
// What it does not carry it hands to Transport.Fallback: TLS ("https"),
// protocol upgrades, "Expect: 100-continue", request trailers and bodies of
// unknown length that are not streamed chunked (ContentLength 0 with a
// non-empty Body).
package h1
