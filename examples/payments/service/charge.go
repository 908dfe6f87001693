package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keelhq/keel/examples/payments/ledger"
)

// maxAmount is the largest charge accepted, in minor units.
const maxAmount = 1_000_000_000_00

// chargeRequest is the body of POST /charges.
type chargeRequest struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Customer string `json:"customer"`
}

// Charge is the body of a 201 from POST /charges and of GET /charges/{id}.
type Charge struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Replica  string    `json:"replica"`
	Amount   int64     `json:"amount"`
	Currency string    `json:"currency"`
	Customer string    `json:"customer"`
	Created  time.Time `json:"created"`
}

func chargeOf(e ledger.Entry) Charge {
	return Charge{
		ID: e.ID, Status: "succeeded", Replica: e.Replica,
		Amount: e.Amount, Currency: e.Currency, Customer: e.Customer, Created: e.Time,
	}
}

// errMalformed marks a body that is not a JSON charge request (400); other
// parseCharge errors are invalid values (422).
var errMalformed = errors.New("malformed request body")

// parseCharge decodes and validates a charge request. Its error texts are
// meant for the client.
func parseCharge(body []byte) (chargeRequest, error) {
	var req chargeRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return chargeRequest{}, fmt.Errorf("%w: %v", errMalformed, err) //nolint:errorlint // the decoder's error is text for the client, not a cause to match
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return chargeRequest{}, fmt.Errorf("%w: data after the JSON object", errMalformed)
	}
	switch {
	case req.Amount <= 0 || req.Amount > maxAmount:
		return chargeRequest{}, fmt.Errorf("amount %d is not in [1, %d] (minor units)", req.Amount, int64(maxAmount))
	case !isCurrency(req.Currency):
		return chargeRequest{}, fmt.Errorf("currency %q is not three upper-case letters (ISO 4217)", req.Currency)
	case req.Customer == "" || len(req.Customer) > 64 || !isPrintableASCII(req.Customer):
		return chargeRequest{}, fmt.Errorf("customer %q is not 1 to 64 printable ASCII characters", req.Customer)
	}
	return req, nil
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isPrintableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
