// Command testbackend is a small HTTP server whose behavior a test can
// change while it runs. The gateway's end-to-end tests start several of
// them as real processes, put Keel in front, and then kill them, slow them
// down or make them fail.
//
//	testbackend -addr 127.0.0.1:0 -name b1
//
// The first line on standard output is "listening <host:port>", the
// address actually bound. SIGTERM or SIGINT shuts the server down
// gracefully: requests in flight finish (for up to ten seconds).
//
// Endpoints:
//
//	GET  /healthz    200 "ok", whatever the behavior.
//	POST /_control   JSON {"status": 500, "delay_ms": 100, "fail_percent": 0}
//	                 sets the behavior of every other endpoint and answers
//	                 the new behavior; GET /_control shows it, with the
//	                 number of requests served so far. status 0 means 200,
//	                 delay_ms is waited before answering (the request's
//	                 cancellation ends the wait), fail_percent of the
//	                 requests answer 500 instead of status.
//	POST /charges    applies the charge named by the Idempotency-Key header:
//	                 counts the key, then answers 201 with a JSON body naming
//	                 the backend, the key and a charge number unique to this
//	                 process.
//	GET  /_applied   JSON {"key": count} of the charges applied.
//	anything else    status (200) with {"backend": name, "path": path}.
//
// It is a test tool: everything lives in memory and nothing is
// authenticated.
package main
