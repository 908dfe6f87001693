// Package window keeps sliding-window call statistics for circuit breakers and
// outlier detectors: how many calls finished, how many failed and how many were
// slow, over the last N calls ([Count]) or the last N time buckets ([Time]).
//
// The windows are plain data structures: they are not safe for concurrent use
// and take the current time as an argument, so the caller guards them with its
// own lock and decides where time comes from. Recording and reading cost O(1)
// (a time window that has been idle catches up in at most N steps) and never
// allocate.
package window
