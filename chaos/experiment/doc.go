// Package experiment runs declarative chaos experiments in the manner of
// the Chaos Toolkit: a steady-state hypothesis, a method that tries to
// disprove it, rollbacks that always run, and a journal with the verdict.
//
// An [Experiment] is a plain value, usually read from a YAML file by
// "keel experiment run" (the command owns the file format; the package
// imports only the standard library). It lists:
//
//   - services: processes started first (each waited for until its ready
//     URL answers 2xx) and stopped last, so that an experiment can be
//     self-contained;
//   - load: open-loop HTTP traffic at a fixed rate for the whole run;
//   - the steady state: probes over the load of the last window (success
//     rate, latency percentile) and custom HTTP invariants;
//   - the method: fault (a gateway's POST /faults), clear_faults, wait,
//     kill (a signal to a service or a pid file), restart, partition and
//     heal (a TCP fault proxy's proxy disabled and enabled), http;
//   - rollbacks.
//
// A [Runner] runs it: the hypothesis is checked once before the method
// (if it does not hold, the method is not run), after each step, and one
// window after the method. Faults and partitions the method added are
// undone automatically, then the rollbacks run, then the services stop,
// whatever happened before: a failed step, a violated hypothesis or a
// canceled context. The [Journal] records every step, every probe
// evaluation, the load per second and the verdict; it writes itself as JSON
// and as a self-contained HTML report with inline SVG plots.
//
// The experiment's Seed drives its random choices (the load's idempotency
// keys) and is logged and journaled.
package experiment
