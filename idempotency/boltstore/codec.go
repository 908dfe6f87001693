package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/keelhq/keel/idempotency"
)

// The on-disk format, version 1.
//
// Record key (bucket "records"): uvarint(len(scope)) | scope | key. The length
// prefix makes the split unambiguous whatever bytes scope and key hold.
//
// Expiry index key (bucket "expiry"): the record's ExpiresAt as 8 bytes of
// big-endian Unix seconds with the sign bit flipped, then 4 bytes of
// big-endian nanoseconds, then the record key. Byte order is time order, so
// Reap walks the index from the start and stops at the first live entry. The
// index value is empty.
//
// Record value:
//
//	byte       format version (1)
//	byte       status
//	byte       flags: which optional parts follow (flag* below)
//	[32]byte   fingerprint
//	uvarint    claims
//	uvarint    len(token), token (the owner's token; empty once completed)
//	time       LeaseExpires, CreatedAt, CompletedAt, ExpiresAt, each only
//	           when its flag is set: varint Unix seconds, uvarint nanoseconds
//	response   when flagResponse is set:
//	           uvarint status
//	           uvarint header count + 1 (0 for a nil Header), then per name
//	           (sorted): uvarint len, name, uvarint value count + 1 (0 for a
//	           nil slice), then per value: uvarint len, value
//	           uvarint len(body) + 1 (0 for a nil Body), body
const formatVersion = 1

const (
	flagLease = 1 << iota
	flagCreated
	flagCompleted
	flagExpires
	flagResponse
	flagsKnown = flagLease | flagCreated | flagCompleted | flagExpires | flagResponse
)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("boltstore: corrupt record")

// entry is a record as stored: the public Record (without Scope and Key,
// which live in the bucket key) and the owner's token.
type entry struct {
	rec   idempotency.Record
	token string
}

// recordKey appends the bucket key of (scope, key) to dst.
func recordKey(dst []byte, scope, key string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(scope)))
	dst = append(dst, scope...)
	return append(dst, key...)
}

// splitRecordKey is the inverse of recordKey.
func splitRecordKey(k []byte) (scope, key string, err error) {
	n, w := binary.Uvarint(k)
	if w <= 0 || n > uint64(len(k)-w) { //nolint:gosec // w ≤ len(k) when w > 0
		return "", "", fmt.Errorf("%w: bad record key", errCorrupt)
	}
	rest := k[w:]
	return string(rest[:n]), string(rest[n:]), nil
}

// expiryKeyLen is the length of the time prefix of an expiry index key.
const expiryKeyLen = 12

// appendExpiryTime appends t in the sortable 12-byte form.
func appendExpiryTime(dst []byte, t time.Time) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Unix())^(1<<63)) //nolint:gosec // bit-for-bit, sign flipped to sort
	return binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))  //nolint:gosec // Nanosecond is in [0, 1e9)
}

// expiryTime decodes the time prefix of an expiry index key.
func expiryTime(k []byte) (time.Time, bool) {
	if len(k) < expiryKeyLen {
		return time.Time{}, false
	}
	sec := int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) //nolint:gosec // undoes the sign flip: a bit-for-bit reinterpretation
	nsec := binary.BigEndian.Uint32(k[8:])
	if nsec >= 1e9 {
		return time.Time{}, false
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}

// appendEntry appends the value encoding of e to dst.
func appendEntry(dst []byte, e *entry) []byte {
	r := &e.rec
	var flags byte
	for _, f := range [...]struct {
		t    time.Time
		flag byte
	}{{r.LeaseExpires, flagLease}, {r.CreatedAt, flagCreated}, {r.CompletedAt, flagCompleted}, {r.ExpiresAt, flagExpires}} {
		if !f.t.IsZero() {
			flags |= f.flag
		}
	}
	if r.Response != nil {
		flags |= flagResponse
	}
	dst = append(dst, formatVersion, byte(r.Status), flags)
	dst = append(dst, r.Fingerprint[:]...)
	dst = binary.AppendUvarint(dst, uint64(max(r.Claims, 0)))
	dst = appendString(dst, e.token)
	for _, t := range [...]time.Time{r.LeaseExpires, r.CreatedAt, r.CompletedAt, r.ExpiresAt} {
		if !t.IsZero() {
			dst = binary.AppendVarint(dst, t.Unix())
			dst = binary.AppendUvarint(dst, uint64(t.Nanosecond())) //nolint:gosec // Nanosecond is in [0, 1e9)
		}
	}
	if r.Response == nil {
		return dst
	}
	resp := r.Response
	dst = binary.AppendUvarint(dst, uint64(max(resp.Status, 0)))
	if resp.Header == nil {
		dst = append(dst, 0)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(resp.Header))+1)
		names := make([]string, 0, len(resp.Header))
		for name := range resp.Header {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			dst = appendString(dst, name)
			vals := resp.Header[name]
			if vals == nil {
				dst = append(dst, 0)
				continue
			}
			dst = binary.AppendUvarint(dst, uint64(len(vals))+1)
			for _, v := range vals {
				dst = appendString(dst, v)
			}
		}
	}
	if resp.Body == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(resp.Body))+1)
	return append(dst, resp.Body...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads the value encoding. The first error sticks; later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) byte(what string) byte {
	if len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length or count and checks that it can fit in what is left
// (each counted item takes at least minSize bytes), so corrupt input cannot
// make the decoder allocate more than the input's size.
func (d *decoder) count(what string, minSize uint64) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if minSize > 0 && n > uint64(len(d.b))/minSize {
		d.fail(what)
		return 0
	}
	return int(n) //nolint:gosec // at most len(d.b) when minSize > 0, and every caller passes one
}

// optCount reads a count stored plus one, with 0 meaning nil.
func (d *decoder) optCount(what string, minSize uint64) (int, bool) {
	n := d.uvarint(what)
	if d.err != nil || n == 0 {
		return 0, false
	}
	n--
	if minSize > 0 && n > uint64(len(d.b))/minSize {
		d.fail(what)
		return 0, false
	}
	return int(n), true //nolint:gosec // at most len(d.b) when minSize > 0, and every caller passes one
}

func (d *decoder) bytes(n int, what string) []byte {
	if n > len(d.b) {
		d.fail(what)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) string(what string) string {
	return string(d.bytes(d.count(what, 1), what))
}

func (d *decoder) time(what string) time.Time {
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return time.Time{}
	}
	d.b = d.b[n:]
	nsec := d.uvarint(what)
	if d.err != nil || nsec >= 1e9 {
		d.fail(what)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// decodeEntry decodes a value written by appendEntry. The result shares no
// memory with b, which may be bbolt's memory map.
func decodeEntry(b []byte) (entry, error) {
	d := decoder{b: b}
	var e entry
	r := &e.rec
	if v := d.byte("version"); d.err == nil && v != formatVersion {
		return entry{}, fmt.Errorf("%w: unsupported format version %d", errCorrupt, v)
	}
	r.Status = idempotency.Status(d.byte("status"))
	flags := d.byte("flags")
	if d.err == nil && flags&^flagsKnown != 0 {
		return entry{}, fmt.Errorf("%w: unknown flags %#x", errCorrupt, flags)
	}
	copy(r.Fingerprint[:], d.bytes(len(r.Fingerprint), "fingerprint"))
	claims := d.uvarint("claims")
	if claims > 1<<31 {
		d.fail("claims")
	}
	r.Claims = int(claims) //nolint:gosec // checked against 1<<31 above
	e.token = d.string("token")
	if flags&flagLease != 0 {
		r.LeaseExpires = d.time("lease")
	}
	if flags&flagCreated != 0 {
		r.CreatedAt = d.time("created")
	}
	if flags&flagCompleted != 0 {
		r.CompletedAt = d.time("completed")
	}
	if flags&flagExpires != 0 {
		r.ExpiresAt = d.time("expires")
	}
	if flags&flagResponse != 0 && d.err == nil {
		r.Response = d.response()
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return entry{}, d.err
	}
	return e, nil
}

func (d *decoder) response() *idempotency.Response {
	resp := &idempotency.Response{}
	status := d.uvarint("response status")
	if status > 999 {
		d.fail("response status")
	}
	resp.Status = int(status) //nolint:gosec // checked against 999 above
	// A header name takes at least two bytes: its length and its value count.
	if n, ok := d.optCount("header count", 2); ok {
		resp.Header = make(http.Header, n)
		for range n {
			name := d.string("header name")
			var vals []string
			if m, ok := d.optCount("header value count", 1); ok {
				vals = make([]string, m)
				for j := range vals {
					vals[j] = d.string("header value")
				}
			}
			if d.err != nil {
				return nil
			}
			if _, dup := resp.Header[name]; dup {
				d.fail("header name (duplicate)")
				return nil
			}
			resp.Header[name] = vals
		}
	}
	if n, ok := d.optCount("body length", 1); ok {
		resp.Body = append(make([]byte, 0, n), d.bytes(n, "body")...)
	}
	return resp
}
