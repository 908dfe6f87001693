// Package config reads the configuration of Keel's gateway: one YAML file,
// usually keel.yaml, that declares the listener, the admin API, telemetry,
// gateway-wide admission control, feature flags, stores, upstreams and
// routes.
//
// Load reads a file and Parse parses bytes. Both expand ${VAR} references
// in values, reject unknown keys (suggesting the key probably meant), apply
// the documented defaults and run Validate, and report every problem at
// once as *Error values carrying the file, line, column and key path:
//
//	keel.yaml:14:5: routes[2].retry.attempts: must be between 1 and 10, got 12
//
// Top-level keys that start with "x-" are ignored, so that they can hold
// YAML anchors for merge keys (<<: *defaults).
//
// Durations ("250ms"), percentages ("25%"), byte sizes ("64KiB") and rates
// ("100/s") have their own types with Std, Fraction, Bytes and Limit
// accessors. The zero value of every field means its default, exactly as in
// the library's Config structs, so a Config built in Go validates the same
// way; ApplyDefaults fills the defaults in.
//
// Schema returns a JSON Schema of the file, generated from the same struct
// tags as the reference in docs/gateway-config.md.
package config
