// Command loadgen is the fixed-rate load generator of the proxy benchmark
// (bench/proxy/run.sh). wrk measures throughput at saturation but has no
// fixed-rate mode; loadgen measures latency at a fixed rate.
//
// It is open loop: request i is scheduled at start + i/rate whatever happened
// to earlier requests, and its latency is counted from that scheduled time,
// not from when a connection became free to send it. A slow response
// therefore delays and counts against every request queued behind it, as it
// would for real clients (no coordinated omission). Requests are sent over
// -connections keep-alive connections, one per worker, each opened by one
// unmeasured request before the schedule starts; a request waits for a free
// worker when all are busy. On Linux the schedule is kept with nanosleep,
// precise to tens of microseconds, rather than with the runtime's timers,
// which wake an idle program in steps of a millisecond.
//
// The run is bounded: rate×duration requests (at most 1,000,000), each with
// a timeout, and the whole run ends at duration + timeout + 5s even if
// requests are stuck.
//
// It prints one JSON object: the counts, the achieved rate, the latency
// percentiles of the successful requests (a 200 with its body read) and the
// send lag (from the scheduled time to the send: loadgen's own precision
// while connections are free), all in microseconds.
//
// Usage:
//
//	loadgen -rate 2000 -duration 10s -connections 32 -url http://127.0.0.1:19113/
package main
