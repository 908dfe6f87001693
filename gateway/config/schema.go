package config

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// Patterns of the human-readable value types, in JSON Schema (ECMA-262)
// syntax. They accept what the parsers accept, give or take range checks.
const (
	durationPattern = `^([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$`
	percentPattern  = `^[0-9]{1,3}(\.[0-9]{1,4})?%$`
	byteSizePattern = `^[0-9]{1,19} ?([KMGT]i?B|B)?$`
	ratePattern     = `^[0-9.]+/(s|m|h|([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$`
)

var (
	durationType = reflect.TypeFor[Duration]()
	percentType  = reflect.TypeFor[Percent]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	rateType     = reflect.TypeFor[Rate]()
)

// Schema returns a JSON Schema (draft 2020-12) of the configuration file,
// generated from the Config structs and their yaml, desc, default, enum,
// keys and required tags. Editors with YAML language support can validate
// and complete keel.yaml with it. The schema checks the shape and the
// syntax of values; Validate checks the rest (ranges, references, pairs of
// keys). The output is deterministic.
func Schema() []byte {
	defs := map[string]any{}
	root := structSchema(reflect.TypeFor[Config](), defs)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://keel.dev/keel.schema.json"
	root["title"] = "Keel gateway configuration (keel.yaml)"
	root["$defs"] = defs
	root["patternProperties"] = map[string]any{"^x-": map[string]any{"description": "Ignored: a place for YAML anchors."}}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		panic("config: Schema: " + err.Error()) // the values are all plain JSON
	}
	return append(b, '\n')
}

func structSchema(t reflect.Type, defs map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		s := typeSchema(f.Type, defs)
		if d := f.Tag.Get("desc"); d != "" {
			s["description"] = d
		}
		if enum, ok := f.Tag.Lookup("enum"); ok {
			s["enum"] = strings.Split(enum, ",")
		}
		if k, ok := f.Tag.Lookup("keys"); ok {
			s["propertyNames"] = map[string]any{"pattern": k}
		}
		if d, ok := schemaDefault(f); ok {
			s["default"] = d
		}
		if f.Tag.Get("required") == "true" {
			required = append(required, name)
		}
		props[name] = s
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// typeSchema returns a new schema map for t; struct types go to defs and
// are referenced.
func typeSchema(t reflect.Type, defs map[string]any) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case durationType:
		return map[string]any{"type": "string", "pattern": durationPattern}
	case percentType:
		return map[string]any{"type": "string", "pattern": percentPattern}
	case byteSizeType:
		return map[string]any{"type": []string{"integer", "string"}, "pattern": byteSizePattern, "minimum": 0}
	case rateType:
		return map[string]any{"type": "string", "pattern": ratePattern}
	}
	switch t.Kind() {
	case reflect.Struct:
		if _, ok := defs[t.Name()]; !ok {
			defs[t.Name()] = nil // placeholder against recursion
			defs[t.Name()] = structSchema(t, defs)
		}
		return map[string]any{"$ref": "#/$defs/" + t.Name()}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), defs)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), defs)}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic("config: Schema: unsupported type " + t.String())
}

// schemaDefault returns a field's default tag as a JSON value, if it is a
// literal value of the field's type rather than words.
func schemaDefault(f reflect.StructField) (any, bool) {
	d, ok := f.Tag.Lookup("default")
	if !ok {
		return nil, false
	}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case durationType:
		_, err := ParseDuration(d)
		return d, err == nil
	case percentType:
		_, err := ParsePercent(d)
		return d, err == nil
	case byteSizeType:
		_, err := ParseByteSize(d)
		return d, err == nil
	case rateType:
		return nil, false
	}
	switch t.Kind() {
	case reflect.Bool:
		b, err := strconv.ParseBool(d)
		return b, err == nil
	case reflect.Int:
		n, err := strconv.Atoi(d)
		return n, err == nil
	case reflect.Float64:
		x, err := strconv.ParseFloat(d, 64)
		return x, err == nil
	case reflect.String:
		return d, !strings.ContainsAny(d, " (\"")
	}
	return nil, false
}
