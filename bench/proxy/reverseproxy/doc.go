// Command reverseproxy is the baseline contender of the proxy benchmark
// (bench/proxy/run.sh): the smallest useful reverse proxy built on the
// standard library. It is an httputil.ReverseProxy whose Rewrite picks the
// next backend round robin, over an http.Transport tuned to keep upstream
// connections alive; nothing else (no retries, no health checks, no logs).
//
// Usage:
//
//	reverseproxy -addr 127.0.0.1:19113 -backends 127.0.0.1:19101,127.0.0.1:19102,127.0.0.1:19103
//
// It runs until SIGINT or SIGTERM.
package main
