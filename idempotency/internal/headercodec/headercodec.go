package headercodec

import (
	"encoding/binary"
	"errors"
	"maps"
	"net/http"
	"slices"
)

// Encode encodes h compactly: the number of names, then for each name
// in sorted order its length and bytes, the number of values, and each
// value's length and bytes, all lengths as unsigned varints. A nil or empty
// header encodes as one zero byte.
func Encode(h http.Header) []byte {
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

// ErrBad is returned by Decode for input that Encode did not write.
var ErrBad = errors.New("bad header encoding")

// Decode decodes what Encode wrote. It never returns a nil
// header, and rejects trailing bytes and lengths that overrun the input.
func Decode(b []byte) (http.Header, error) {
	count, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	if count > uint64(len(b)) { // each name takes at least one byte
		return nil, ErrBad
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
			return nil, ErrBad
		}
		vs := make([]string, nv)
		for i := range vs {
			if vs[i], b, err = lenString(b); err != nil {
				return nil, err
			}
		}
		if _, dup := h[k]; dup {
			return nil, ErrBad
		}
		h[k] = vs
	}
	if len(b) != 0 {
		return nil, ErrBad
	}
	return h, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, ErrBad
	}
	return v, b[n:], nil
}

func lenString(b []byte) (string, []byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return "", nil, err
	}
	if n > uint64(len(b)) {
		return "", nil, ErrBad
	}
	return string(b[:n]), b[n:], nil
}
