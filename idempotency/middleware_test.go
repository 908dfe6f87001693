package idempotency_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
	"github.com/keelhq/keel/idempotency/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHTTPConformance(t *testing.T) {
	idempotencytest.RunHTTP(t, func(*testing.T) idempotency.Store { return memstore.New() })
}
