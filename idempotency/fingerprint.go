package idempotency

import (
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// canonicalVersion starts every canonical form, so that a future change of
// the encoding can never collide with records written by this one.
const canonicalVersion = "keel-idempotency-v1\n"

// AppendCanonical appends to dst the canonical form of everything that makes
// a request "the same request" except its body: method, route, the canonical
// query (see [CanonicalQuery]) and the values of the named headers, in the
// order of names, each field prefixed by its length so that no two different
// requests share a form. Header names are compared case-insensitively; a
// header's several field lines are kept in order; an absent header and an
// empty one differ.
//
// The request's fingerprint is the SHA-256 of this form followed by the body.
// AppendCanonical is a pure function, safe for concurrent use.
func AppendCanonical(dst []byte, method, route, rawQuery string, header http.Header, names []string) []byte {
	dst = append(dst, canonicalVersion...)
	dst = appendField(dst, method)
	dst = appendField(dst, route)
	dst = appendCanonicalQuery(dst, rawQuery)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, name := range names {
		vals, ok := header[http.CanonicalHeaderKey(name)]
		if !ok {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		dst = binary.AppendUvarint(dst, uint64(len(vals)))
		for _, v := range vals {
			dst = appendField(dst, v)
		}
	}
	return dst
}

func appendField(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendCanonicalQuery appends the length-prefixed canonical query.
func appendCanonicalQuery(dst []byte, rawQuery string) []byte {
	if rawQuery == "" {
		return appendField(dst, "")
	}
	q := CanonicalQuery(rawQuery)
	return appendField(dst, q)
}

type queryPair struct{ key, value, raw string }

// CanonicalQuery returns rawQuery in a canonical form, so that queries a
// server cannot tell apart fingerprint alike: pairs are split on "&" (empty
// ones dropped), keys and values are unescaped ("+" is a space, as in
// url.ParseQuery), sorted stably by key (so the order of one key's values,
// which handlers see, is kept) and escaped again with
// url.QueryEscape; "k" and "k=" are the same pair. A pair that does not
// unescape is kept byte for byte after the escaped pairs, sorted among its
// kind. CanonicalQuery(CanonicalQuery(q)) == CanonicalQuery(q). It is safe
// for concurrent use.
func CanonicalQuery(rawQuery string) string {
	if rawQuery == "" || isCanonical(rawQuery) {
		return rawQuery
	}
	var stack [16]queryPair
	pairs := stack[:0]
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ku, err1 := url.QueryUnescape(k)
		vu, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			pairs = append(pairs, queryPair{raw: part})
			continue
		}
		pairs = append(pairs, queryPair{key: ku, value: vu})
	}
	slices.SortStableFunc(pairs, func(a, b queryPair) int {
		// Escaped pairs first, then raw ones; raw ones by their bytes.
		if (a.raw == "") != (b.raw == "") {
			if a.raw == "" {
				return -1
			}
			return 1
		}
		if a.raw != "" {
			return strings.Compare(a.raw, b.raw)
		}
		return strings.Compare(a.key, b.key)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		if p.raw != "" {
			b.WriteString(p.raw)
			continue
		}
		b.WriteString(url.QueryEscape(p.key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.value))
	}
	return b.String()
}

// isCanonical reports whether q is already canonical in the simplest way:
// non-empty pairs of unreserved characters with exactly one "=" each, in
// key order. Unescaping and escaping such a query changes nothing.
func isCanonical(q string) bool {
	prev := ""
	for part := range strings.SplitSeq(q, "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || part == "" || !unreserved(k) || !unreserved(v) || k < prev {
			return false
		}
		prev = k
	}
	return true
}

// unreserved reports whether url.QueryEscape and url.QueryUnescape leave s
// unchanged: only letters, digits and "-", ".", "_", "~".
func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
