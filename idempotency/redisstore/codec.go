package redisstore

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/internal/headercodec"
)

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
			resp.Header, err = headercodec.Decode([]byte(v))
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
