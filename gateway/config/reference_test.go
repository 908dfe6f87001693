package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	schemaFile    = "../../docs/keel.schema.json"
	referenceFile = "../../docs/gateway-config.md"
	beginMarker   = "<!-- BEGIN GENERATED -->\n"
	endMarker     = "<!-- END GENERATED -->"
)

// TestSchema: docs/keel.schema.json is Schema().
func TestSchema(t *testing.T) {
	got := Schema()
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("Schema is not JSON: %v", err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil || !bytes.Equal(want, got) {
		t.Fatalf("%s is not Schema() (%v); regenerate it with: go test ./gateway/config -run TestSchema -update", schemaFile, err)
	}
}

// TestSchemaShape checks a few things every consumer relies on.
func TestSchemaShape(t *testing.T) {
	var s struct {
		Schema     string                     `json:"$schema"`
		Additional bool                       `json:"additionalProperties"`
		Defs       map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.Additional {
		t.Errorf("root: got $schema %q, additionalProperties %v", s.Schema, s.Additional)
	}
	for _, name := range []string{"Listen", "Route", "Retry", "Upstream", "Outlier", "Bulkhead", "RateLimit"} {
		var d struct {
			Additional *bool `json:"additionalProperties"`
		}
		if err := json.Unmarshal(s.Defs[name], &d); err != nil || d.Additional == nil || *d.Additional {
			t.Errorf("$defs.%s: additionalProperties = %v (%v); want false", name, d.Additional, err)
		}
	}
	var route struct {
		Properties map[string]map[string]any `json:"properties"`
		Required   []string                  `json:"required"`
	}
	_ = json.Unmarshal(s.Defs["Route"], &route)
	if got := route.Properties["timeout"]; got["pattern"] != durationPattern || got["default"] != "15s" {
		t.Errorf("Route.timeout: got %v; want the duration pattern and default 15s", got)
	}
	if fmt.Sprint(route.Required) != "[name upstream]" {
		t.Errorf("Route required: got %v, want [name upstream]", route.Required)
	}
}

// TestReference: the generated section of docs/gateway-config.md matches
// the struct tags.
func TestReference(t *testing.T) {
	doc, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q and %q markers", referenceFile, beginMarker, endMarker)
	}
	gen := reference()
	if *update {
		s = s[:i+len(beginMarker)] + gen + s[j:]
		if err := os.WriteFile(referenceFile, []byte(s), 0o644); err != nil { //nolint:gosec // a constant path, written only with -update
			t.Fatal(err)
		}
		return
	}
	if got := s[i+len(beginMarker) : j]; got != gen {
		t.Fatalf("the generated section of %s is out of date; regenerate it with: go test ./gateway/config -run TestReference -update", referenceFile)
	}
}

// reference renders one table of keys per top-level section.
func reference() string {
	var b strings.Builder
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		fmt.Fprintf(&b, "### `%s`\n\n%s\n\n", name, f.Tag.Get("desc"))
		b.WriteString("| Key | Type | Default | Meaning |\n|---|---|---|---|\n")
		refRows(&b, name, f.Type)
		b.WriteString("\n")
	}
	return b.String()
}

func refRows(b *strings.Builder, path string, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Map && isSection(t.Elem()):
		refRows(b, path+".<name>", t.Elem())
		return
	case t.Kind() == reflect.Slice && isSection(t.Elem()):
		refRows(b, path+"[]", t.Elem())
		return
	case !isSection(t):
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		key := path + "." + name
		def := f.Tag.Get("default")
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		typ := typeName(f)
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", key, typ, def, strings.ReplaceAll(f.Tag.Get("desc"), "|", `\|`))
		refRows(b, key, f.Type)
	}
}

// isSection reports whether t (or what it points to) is one of the
// configuration structs, whose keys get rows of their own.
func isSection(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != rateType
}

func typeName(f reflect.StructField) string {
	if enum, ok := f.Tag.Lookup("enum"); ok {
		return "`" + strings.ReplaceAll(enum, ",", "` \\| `") + "`"
	}
	var name func(t reflect.Type, plural bool) string
	name = func(t reflect.Type, plural bool) string {
		s := ""
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t == durationType:
			s = "duration"
		case t == percentType:
			s = "percentage"
		case t == byteSizeType:
			s = "byte size"
		case t == rateType:
			s = "rate"
		case t.Kind() == reflect.Struct:
			s = "mapping"
		case t.Kind() == reflect.Slice:
			return "list of " + name(t.Elem(), true)
		case t.Kind() == reflect.Map:
			return "map of " + name(t.Elem(), true)
		case t.Kind() == reflect.String:
			s = "string"
		case t.Kind() == reflect.Bool:
			s = "boolean"
		case t.Kind() == reflect.Int:
			s = "integer"
		case t.Kind() == reflect.Float64:
			s = "number"
		}
		if plural {
			s += "s"
		}
		return s
	}
	return name(f.Type, false)
}
