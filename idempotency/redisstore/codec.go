package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/keelhq/keel/idempotency"
)

// encodeHeader encodes h compactly: the number of names, then for each name
// in sorted order its length and bytes, the number of values, and each
// value's length and bytes, all lengths as unsigned varints. A nil or empty
// header encodes as one zero byte.
func encodeHeader(h http.Header) []byte {
	n := binary.MaxVarintLen64
	for k, vs := range h {
		n += 2*binary.MaxVarintLen64 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen64 + len(v)
		}
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(h)))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		vs := h[k]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

var errHeader = errors.New("bad header encoding")

// decodeHeader decodes what encodeHeader wrote. It never returns a nil
// header, and rejects trailing bytes and lengths that overrun the input.
func decodeHeader(b []byte) (http.Header, error) {
	count, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	if count > uint64(len(b)) { // each name takes at least one byte
		return nil, errHeader
	}
	h := make(http.Header, count)
	for range count {
		var k string
		if k, b, err = lenString(b); err != nil {
			return nil, err
		}
		var nv uint64
		if nv, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if nv > uint64(len(b)) { // each value takes at least one byte
			return nil, errHeader
		}
		vs := make([]string, nv)
		for i := range vs {
			if vs[i], b, err = lenString(b); err != nil {
				return nil, err
			}
		}
		if _, dup := h[k]; dup {
			return nil, errHeader
		}
		h[k] = vs
	}
	if len(b) != 0 {
		return nil, errHeader
	}
	return h, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errHeader
	}
	return v, b[n:], nil
}

func lenString(b []byte) (string, []byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return "", nil, err
	}
	if n > uint64(len(b)) {
		return "", nil, errHeader
	}
	return string(b[:n]), b[n:], nil
}

// decodeFields builds the record for (scope, key) from n hash fields; field
// returns the name and value of the i-th.
func decodeFields(scope, key string, n int, field func(i int) (name, value string)) (idempotency.Record, error) {
	rec := idempotency.Record{Scope: scope, Key: key}
	var (
		resp    idempotency.Response
		hasResp bool
		seen    uint16
	)
	const (
		needSt = 1 << iota
		needFp
		needCl
		needCa
		needEx
	)
	for i := range n {
		name, v := field(i)
		var err error
		switch name {
		case "st":
			seen |= needSt
			switch v {
			case "1":
				rec.Status = idempotency.StatusInProgress
			case "2":
				rec.Status = idempotency.StatusCompleted
			default:
				err = errors.New("bad status")
			}
		case "fp":
			seen |= needFp
			if len(v) != len(rec.Fingerprint) {
				err = errors.New("bad fingerprint")
			}
			copy(rec.Fingerprint[:], v)
		case "le":
			rec.LeaseExpires, err = parseMillis(v)
		case "cl":
			seen |= needCl
			rec.Claims, err = strconv.Atoi(v)
		case "ca":
			seen |= needCa
			rec.CreatedAt, err = parseMillis(v)
		case "co":
			rec.CompletedAt, err = parseMillis(v)
		case "ex":
			seen |= needEx
			rec.ExpiresAt, err = parseMillis(v)
		case "rs":
			hasResp = true
			resp.Status, err = strconv.Atoi(v)
		case "rh":
			hasResp = true
			resp.Header, err = decodeHeader([]byte(v))
		case "rb":
			hasResp = true
			resp.Body = []byte(v)
		}
		if err != nil {
			return idempotency.Record{}, fmt.Errorf("%w: field %s: %w", ErrCorrupt, name, err)
		}
	}
	if seen != needSt|needFp|needCl|needCa|needEx {
		return idempotency.Record{}, fmt.Errorf("%w: missing fields", ErrCorrupt)
	}
	if rec.Status == idempotency.StatusCompleted {
		if !hasResp {
			return idempotency.Record{}, fmt.Errorf("%w: completed without a response", ErrCorrupt)
		}
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		if resp.Body == nil {
			resp.Body = []byte{}
		}
		rec.Response = &resp
	}
	return rec, nil
}

func parseMillis(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(n), nil
}
