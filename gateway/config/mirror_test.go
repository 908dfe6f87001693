package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/shed"
)

// enumOf returns the enum tag of a field.
func enumOf(t *testing.T, typ reflect.Type, field string) []string {
	t.Helper()
	f, ok := typ.FieldByName(field)
	if !ok {
		t.Fatalf("%s has no field %s", typ, field)
	}
	return strings.Split(f.Tag.Get("enum"), ",")
}

// TestMirrors: the value sets taken from library packages stay accepted by
// those packages' own parsers.
func TestMirrors(t *testing.T) {
	for _, v := range enumOf(t, reflect.TypeFor[Route](), "Criticality") {
		if _, err := shed.ParseCriticality(v); err != nil {
			t.Errorf("route criticality %q: shed.ParseCriticality: %v", v, err)
		}
	}
	for _, v := range enumOf(t, reflect.TypeFor[Idempotency](), "Persistence") {
		if _, err := idempotency.ParsePersistence(v); err != nil {
			t.Errorf("idempotency persistence %q: idempotency.ParsePersistence: %v", v, err)
		}
	}
	if shed.DefaultCapacity != 100 || shed.DefaultSheddableShare != 0.5 || shed.DefaultDefaultShare != 0.8 {
		t.Errorf("shed defaults changed: %d, %v, %v; update Shed's defaults", shed.DefaultCapacity, shed.DefaultSheddableShare, shed.DefaultDefaultShare)
	}
	if idempotency.DefaultLease.String() != "30s" || idempotency.DefaultRetention.String() != "24h0m0s" {
		t.Errorf("idempotency defaults changed: %v, %v; update Idempotency's defaults", idempotency.DefaultLease, idempotency.DefaultRetention)
	}
}
