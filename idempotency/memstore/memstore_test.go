package memstore_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
	"github.com/keelhq/keel/idempotency/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	idempotencytest.Run(t, func(*testing.T) idempotency.Store { return memstore.New() })
}

func TestZeroStore(t *testing.T) {
	idempotencytest.Run(t, func(*testing.T) idempotency.Store { return new(memstore.Store) })
}
