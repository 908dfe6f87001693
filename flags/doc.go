// Package flags holds feature flags and kill switches that can be changed
// while the program runs, in the manner of Envoy's runtime percentages.
//
// A [Flag] has a name, an Enabled switch and a Percent: the share of calls
// (or of users) for which an enabled flag is on. A zero Percent means
// everyone, so Flag{Name: "x", Enabled: true} is simply on; a disabled flag
// is off whatever its Percent.
//
// A [Set] holds the flags. Reads are lock-free and allocation-free: the Set
// keeps an atomic pointer to an immutable snapshot, and writers build a new
// snapshot and swap it in whole. [Set.Enabled] draws at random for a
// partial Percent; [Set.EnabledFor] hashes the flag's name with a key (a user
// or tenant id), so each key gets a sticky answer and raising the Percent
// only adds keys. [Set.Set] adds or replaces one flag and [Set.Replace]
// reloads them all at once (from a config file or an admin API); hooks
// registered with [Set.OnChange] hear of every change.
//
// [Set.Gate] makes a flag a keel.Policy: while the flag is off, operations
// are not run and get a *[DisabledError], which matches [ErrDisabled] and
// keel.ErrRejected.
//
//	set := flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "checkout.v2", Enabled: true, Percent: 0.1}}})
//	if set.EnabledFor("checkout.v2", userID) { … }
//	p := keel.Chain(set.Gate("payments"), retry, breaker)
//
// # Events
//
// A Gate's rejection emits keel.EventRejected to Config.Observer, with Policy
// "flags", Name the flag's name and Err the *DisabledError. Reads and writes
// emit no events; use OnChange to log changes.
package flags
