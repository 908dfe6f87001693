package ledger

import (
	"maps"
	"slices"
)

// Report is the verdict of Audit.
type Report struct {
	// Entries is the number of applications, repeats included.
	Entries int
	// Keys is the number of distinct keys applied.
	Keys int
	// Duplicates lists the keys applied more than once, on one replica or
	// across several, sorted by key.
	Duplicates []Duplicate
	// Lost lists the acknowledged keys that no entry has, sorted.
	Lost []string
	// Unacknowledged is the number of applied keys that are not in the
	// acknowledged list: charges applied whose response never reached the
	// client (it gave up, or the replica died before answering). They are
	// not errors.
	Unacknowledged int
}

// Duplicate is a key applied more than once.
type Duplicate struct {
	Key string
	// Entries are the key's applications, in the order given to Audit.
	Entries []Entry
}

// OK reports whether nothing was applied twice and nothing acknowledged was
// lost.
func (r Report) OK() bool { return len(r.Duplicates) == 0 && len(r.Lost) == 0 }

// Audit checks the entries of every replica's ledger against the idempotency
// keys that clients saw acknowledged (a 2xx response). Pass the entries of
// all ledgers together; their order only decides the order of
// Duplicate.Entries. Repeated keys in acknowledged count once.
func Audit(entries []Entry, acknowledged []string) Report {
	byKey := make(map[string][]Entry)
	for _, e := range entries {
		byKey[e.Key] = append(byKey[e.Key], e)
	}
	r := Report{Entries: len(entries), Keys: len(byKey)}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		if es := byKey[k]; len(es) > 1 {
			r.Duplicates = append(r.Duplicates, Duplicate{Key: k, Entries: es})
		}
	}
	acked := make(map[string]bool, len(acknowledged))
	for _, k := range acknowledged {
		acked[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(acked)) {
		if _, ok := byKey[k]; !ok {
			r.Lost = append(r.Lost, k)
		}
	}
	for k := range byKey {
		if !acked[k] {
			r.Unacknowledged++
		}
	}
	return r
}
