// Command overload is the overload and hedging experiment of Keel's
// performance notes (docs/performance.md, "Overload and hedging").
//
// It starts loopback HTTP backends on 127.0.0.1 and drives them with an
// open-loop load generator: requests start on a fixed schedule whatever
// happens to earlier ones, each with a client timeout.
//
// The overload experiment uses a backend that serves at most -conc requests at
// once, each for -service; extra requests wait in the backend's own queue, and
// a queued request is served even if its client has given up (as a server
// with a plain accept queue does). It runs the backend at 1×, 2× and 4× its
// capacity (conc/service requests per second), once without protection and
// once behind keelhttp middleware whose Admission is keel.Chain(shed.Shedder,
// limit.Limiter with Gradient2). Requests are tagged 20% critical, 50% default
// and 30% sheddable in the Keel-Criticality header.
//
// The hedging experiment uses a backend where 5% of requests take 100 ms and
// the others 2 ms, and calls it with and without a hedge.Policy.
//
// It prints markdown tables to stdout and, with -out, writes an SVG plot of
// goodput and p99 latency against offered load.
//
// Usage:
//
//	cd bench && go run ./overload -out ../docs/overload.svg
package main
