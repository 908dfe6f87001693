package service

import (
	"encoding/json"
	"errors"
	"testing"
)

func FuzzParseCharge(f *testing.F) {
	for _, seed := range []string{
		`{"amount":1234,"currency":"EUR","customer":"c1"}`,
		`{"amount":0,"currency":"EUR","customer":"c1"}`,
		`{"amount":1,"currency":"eur","customer":""}`,
		`{"amount":1e3,"currency":"EUR","customer":"c1"}`,
		`{"amount":1,"currency":"EUR","customer":"c1"} {}`,
		`{"amount":1,"currency":"EUR","customer":"c1","x":1}`,
		`[]`, ``, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseCharge(body)
		if err != nil {
			if req != (chargeRequest{}) {
				t.Errorf("parseCharge(%q) = %+v with error %v; want the zero request", body, req, err)
			}
			return
		}
		if req.Amount < 1 || req.Amount > maxAmount || !isCurrency(req.Currency) ||
			req.Customer == "" || len(req.Customer) > 64 || !isPrintableASCII(req.Customer) {
			t.Fatalf("parseCharge(%q) accepted an invalid request %+v", body, req)
		}
		// A valid request survives a round trip unchanged.
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseCharge(b)
		if err != nil || again != req {
			t.Errorf("round trip of %+v: got %+v, %v", req, again, err)
		}
	})
}

func TestParseCharge(t *testing.T) {
	for _, tc := range []struct {
		body      string
		want      chargeRequest
		malformed bool
		invalid   bool
	}{
		{body: `{"amount":1234,"currency":"EUR","customer":"c1"}`, want: chargeRequest{1234, "EUR", "c1"}},
		{body: ` {"customer":"c 1","currency":"USD","amount":100000000000} `, want: chargeRequest{100000000000, "USD", "c 1"}},
		{body: `{"amount":1.5,"currency":"EUR","customer":"c1"}`, malformed: true},
		{body: `{"amount":1,"currency":"EUR","customer":"c1"}x`, malformed: true},
		{body: ``, malformed: true},
		{body: `{"amount":-5,"currency":"EUR","customer":"c1"}`, invalid: true},
		{body: `{"amount":5,"currency":"EURO","customer":"c1"}`, invalid: true},
		{body: `{"amount":5,"currency":"EUR","customer":"c\u00e9"}`, invalid: true},
	} {
		got, err := parseCharge([]byte(tc.body))
		switch {
		case tc.malformed || tc.invalid:
			if err == nil || errors.Is(err, errMalformed) != tc.malformed {
				t.Errorf("parseCharge(%s): got %+v, %v; want malformed=%v invalid=%v", tc.body, got, err, tc.malformed, tc.invalid)
			}
		case err != nil || got != tc.want:
			t.Errorf("parseCharge(%s): got %+v, %v; want %+v", tc.body, got, err, tc.want)
		}
	}
}
