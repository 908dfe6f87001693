package idempotencytest_test

import (
	"testing"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
	"github.com/keelhq/keel/idempotency/memstore"
)

// A store package runs both suites from its tests. (Not run: it needs a
// *testing.T.)
func ExampleRun() {
	var t *testing.T // the *testing.T of a TestConformance function
	newStore := func(*testing.T) idempotency.Store { return memstore.New() }
	idempotencytest.Run(t, newStore)
	idempotencytest.RunHTTP(t, newStore)
}
