// Command backend is the upstream server of the proxy benchmark
// (bench/proxy/run.sh): a minimal HTTP/1.1 server on one address that answers
// every GET with 200 and the same 100-byte text body, and keeps connections
// alive. The benchmark runs three of them, on 127.0.0.1:19101, :19102 and
// :19103.
//
// Usage:
//
//	backend -addr 127.0.0.1:19101
//
// It runs until SIGINT or SIGTERM, then closes its listener and connections.
package main
