package demo

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// actionKind is one kind of chaos action.
type actionKind int

const (
	actKill       actionKind = iota + 1 // SIGKILL a payments replica; restart it after Restart
	actLatency                          // latency on recommendations, for Length
	actErrors                           // 503s on recommendations, for Length
	actNetwork                          // black-hole the responses of the proxied payments replica, for Length
	actBadReplica                       // one recommendations replica answers 500 to everything, for Length
)

// action is one step of the chaos schedule.
type action struct {
	At     time.Duration // from the start of the load
	Kind   actionKind
	Length time.Duration // of a fault window
	// Restart is how long a killed replica stays dead.
	Restart time.Duration
	// Pick chooses the victim among the live replicas (an index modulo
	// their number) or the bad recommendations replica, drawn with the
	// schedule so that a seed replays it.
	Pick int
}

// schedule returns the chaos actions of a run of length d, in time order:
// a kill about every ten seconds from the fifth (restarted two to four
// seconds later, none in the last four seconds), then, at fixed fractions
// of d, windows of latency and of errors on recommendations, a bad
// recommendations replica (every answer a 500, long enough for its breaker
// to open and to probe it again) and one network fault on payments.
func schedule(d time.Duration, seed uint64) []action {
	rng := rand.New(rand.NewPCG(seed, 0x6b65656c))
	jitter := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	var acts []action
	for at := jitter(4*time.Second, 6*time.Second); at < d-4*time.Second; at += jitter(8*time.Second, 12*time.Second) {
		acts = append(acts, action{At: at, Kind: actKill, Restart: jitter(2*time.Second, 4*time.Second), Pick: rng.IntN(1 << 30)})
	}
	window := min(max(d*15/100, 2*time.Second), 10*time.Second)
	acts = append(acts,
		action{At: d * 10 / 100, Kind: actLatency, Length: window},
		action{At: d * 30 / 100, Kind: actErrors, Length: window},
		// A quarter of the run, 3s to 6s: long enough that the replica's
		// breaker sees its failures even when the load runs slow (a race
		// build on a busy machine), short enough to end before the run.
		action{At: d * 50 / 100, Kind: actBadReplica, Length: min(max(d/4, 3*time.Second), 6*time.Second), Pick: rng.IntN(1 << 30)},
		action{At: d * 70 / 100, Kind: actNetwork, Length: min(window, 5*time.Second)},
	)
	slices.SortStableFunc(acts, func(a, b action) int { return cmp.Compare(a.At, b.At) })
	return acts
}
