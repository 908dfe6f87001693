package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a configuration. Parse, Load and Validate return
// one *Error, or several joined with errors.Join (see Errors).
type Error struct {
	File   string // file name as given to Parse or Load; "" for a Config built in Go
	Line   int    // 1-based line of the offending key; 0 if unknown
	Column int    // 1-based column; 0 if unknown
	Key    string // path of the key, such as "routes[2].retry.attempts"; "" for the whole file
	Msg    string // what is wrong
}

// Error returns "file:line:col: key: message", leaving out the parts that
// are not known.
func (e *Error) Error() string {
	var b []byte
	b = append(b, e.File...)
	if e.Line > 0 {
		if len(b) > 0 {
			b = append(b, ':')
		}
		b = strconv.AppendInt(b, int64(e.Line), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(e.Column), 10)
	}
	for _, s := range [...]string{e.Key, e.Msg} {
		if s == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, ": "...)
		}
		b = append(b, s...)
	}
	return string(b)
}

// Errors returns the *Error values in err, in order: err itself, or the
// errors it joins. It returns nil for an error of any other kind.
func Errors(err error) []*Error {
	var e *Error
	if errors.As(err, &e) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			var out []*Error
			for _, x := range j.Unwrap() {
				out = append(out, Errors(x)...)
			}
			return out
		}
		return []*Error{e}
	}
	return nil
}

// position is where a key (or list item) appears in the file.
type position struct{ line, col int }

// errList collects errors.
type errList []*Error

func (l *errList) add(key, format string, args ...any) {
	*l = append(*l, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// join sorts the errors by position (unknown positions last, by key) and
// joins them; nil if there are none, the *Error itself if there is one.
func join(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Key, b.Key))
	})
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// Suggest returns the candidate closest to s by edit distance (case
// insensitive), if it is close enough to be a likely typo, else "". The
// gateway's configuration and experiment files share it for their "did you
// mean" hints.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d <= max(1, min(3, len(c)/3)) && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

func didYouMean(s string, candidates []string) string {
	if m := Suggest(s, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

// didYouMeanOrList is didYouMean, or else a list of the candidates under
// the heading what.
func didYouMeanOrList(s string, candidates []string, what string) string {
	if m := didYouMean(s, candidates); m != "" {
		return m
	}
	if len(candidates) == 0 {
		return " (no " + what + " are defined)"
	}
	return " (" + what + ": " + strings.Join(candidates, ", ") + ")"
}

// editDistance is the optimal-string-alignment distance between a and b,
// in bytes: Levenshtein's insertions, deletions and substitutions, plus
// the swap of two neighbors ("laod" is one edit from "load"), the most
// common typo in a key. Inputs longer than 64 bytes are not compared
// (distance 64).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev2 := make([]int, len(b)+1) // row i-2
	prev := make([]int, len(b)+1)  // row i-1
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
