package main

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keelhq/keel/chaos/experiment"
	"github.com/keelhq/keel/gateway/config"
)

// loadExperiment reads and validates an experiment file. Its errors are
// *config.Error values (file:line:column: key: message), joined.
func loadExperiment(path string, getenv func(string) string) (*experiment.Experiment, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator's own experiment file
	if err != nil {
		return nil, &config.Error{File: path, Msg: err.Error()}
	}
	return parseExperiment(path, data, getenv)
}

// parseExperiment parses an experiment from YAML. It is strict: unknown
// keys, duplicate keys and values of the wrong type are errors, each with
// its line. Before a scalar is decoded, ${VAR} is replaced with
// getenv("VAR"), ${VAR:-text} with text when VAR is empty or unset, and $$
// with $; an unset VAR without a default is an error. A plain (unquoted)
// scalar is typed after the replacement, so "rate: ${RATE}" may hold a
// number. Top-level keys starting with "x-" are ignored, for anchors.
func parseExperiment(name string, data []byte, getenv func(string) string) (*experiment.Experiment, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &config.Error{File: name, Line: 1, Column: 1, Msg: "the file is empty"}
		}
		return nil, yamlSyntaxError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlSyntaxError(name, err)
		}
		return nil, &config.Error{File: name, Line: max(1, extra.Line), Column: extra.Column, Msg: "only one YAML document is allowed"}
	}
	w := &walker{file: name, getenv: getenv, pos: map[string][2]int{}}
	root := doc.Content[0]
	w.walk("", root, root, reflect.TypeFor[experiment.Experiment]())
	if len(w.errs) > 0 {
		return nil, joinErrors(w.errs)
	}
	var x experiment.Experiment
	if err := root.Decode(&x); err != nil {
		return nil, w.decodeError(err)
	}
	if err := x.Validate(); err != nil {
		var out []*config.Error
		for _, fe := range experiment.FieldErrors(err) {
			e := &config.Error{File: name, Key: fe.Path, Msg: fe.Msg}
			for k := fe.Path; k != ""; k = parentPath(k) {
				if p, ok := w.pos[k]; ok {
					e.Line, e.Column = p[0], p[1]
					break
				}
			}
			out = append(out, e)
		}
		return nil, joinErrors(out)
	}
	return &x, nil
}

// walker checks a YAML node tree against the Go type it will be decoded
// into, expands ${VAR} references in place and records where each key is.
type walker struct {
	file   string
	getenv func(string) string
	pos    map[string][2]int
	errs   []*config.Error
}

func (w *walker) fail(path string, n *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, &config.Error{File: w.file, Line: n.Line, Column: n.Column, Key: path, Msg: fmt.Sprintf(format, args...)})
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// walk checks n, the value at path (whose key node is at), against t.
func (w *walker) walk(path string, at, n *yaml.Node, t reflect.Type) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	switch {
	case reflect.PointerTo(t).Implements(textUnmarshaler):
		if !w.scalar(path, at, n, "a string") {
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			w.fail(path, at, "%s", strings.TrimPrefix(err.Error(), "chaos: "))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.structure(path, at, n, t)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(path, at, "must be a list, got %s", kindName(n))
			return
		}
		for i, item := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			w.pos[p] = [2]int{item.Line, item.Column}
			w.walk(p, item, item, t.Elem())
		}
	case reflect.Map:
		keys, vals, ok := w.pairs(path, at, n)
		if !ok {
			return
		}
		for i, k := range keys {
			p := path + "." + k.Value
			w.pos[p] = [2]int{k.Line, k.Column}
			w.walk(p, k, vals[i], t.Elem())
		}
	case reflect.Interface:
		w.expandAll(path, at, n)
	case reflect.String:
		w.scalar(path, at, n, "a string")
	case reflect.Bool:
		if w.scalar(path, at, n, "true or false") && n.ShortTag() != "!!bool" {
			w.fail(path, at, "must be true or false, got %s", kindName(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if w.scalar(path, at, n, "an integer") && n.Decode(reflect.New(t).Interface()) != nil {
			w.fail(path, at, "must be an integer, got %s", kindName(n))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if w.scalar(path, at, n, "an integer") && n.Decode(reflect.New(t).Interface()) != nil {
			w.fail(path, at, "must be an integer >= 0, got %s", kindName(n))
		}
	case reflect.Float32, reflect.Float64:
		if !w.scalar(path, at, n, "a number") {
			return
		}
		// A fault's percent may be written "30%", as in the gateway's
		// configuration; the admin API takes the number.
		if strings.HasSuffix(path, ".percent") && strings.HasSuffix(n.Value, "%") {
			n.Value, n.Tag, n.Style = strings.TrimSpace(strings.TrimSuffix(n.Value, "%")), "", 0
		}
		if n.Decode(reflect.New(t).Interface()) != nil {
			w.fail(path, at, "must be a number, got %s", kindName(n))
		}
	}
}

// scalar expands a scalar node in place; it reports a node of another kind.
func (w *walker) scalar(path string, at, n *yaml.Node, want string) bool {
	if n.Kind != yaml.ScalarNode {
		w.fail(path, at, "must be %s, got %s", want, kindName(n))
		return false
	}
	return w.expand(path, at, n)
}

func (w *walker) expandAll(path string, at, n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		w.expand(path, at, n)
	case yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			w.expandAll(path, at, c)
		}
	}
}

// fields returns a struct's YAML keys and the index paths of their fields,
// with inline structs flattened.
func fields(t reflect.Type) (names []string, index map[string][]int) {
	index = map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if f.Anonymous && strings.Contains(opts, "inline") {
			sub, subIndex := fields(f.Type)
			for _, s := range sub {
				names = append(names, s)
				index[s] = append([]int{i}, subIndex[s]...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
		index[name] = []int{i}
	}
	return names, index
}

func (w *walker) structure(path string, at, n *yaml.Node, t reflect.Type) {
	keys, vals, ok := w.pairs(path, at, n)
	if !ok {
		return
	}
	names, index := fields(t)
	for i, k := range keys {
		p := joinPath(path, k.Value)
		idx, known := index[k.Value]
		if !known && path == "" && strings.HasPrefix(k.Value, "x-") {
			continue
		}
		if !known {
			w.fail(p, k, "unknown key%s", suggestKey(k.Value, names))
			continue
		}
		w.pos[p] = [2]int{k.Line, k.Column}
		w.walk(p, k, vals[i], t.FieldByIndex(idx).Type)
	}
}

// pairs returns the keys and values of a mapping node, merged mappings (<<)
// included, and reports duplicate keys.
func (w *walker) pairs(path string, at, n *yaml.Node) (keys, vals []*yaml.Node, ok bool) {
	if n.Kind != yaml.MappingNode {
		w.fail(path, at, "must be a mapping, got %s", kindName(n))
		return nil, nil, false
	}
	seen := map[string]int{}
	add := func(k, v *yaml.Node, report bool) {
		if j, dup := seen[k.Value]; dup {
			if report {
				w.fail(joinPath(path, k.Value), k, "duplicate key (first at line %d)", keys[j].Line)
			}
			return
		}
		seen[k.Value] = len(keys)
		keys = append(keys, k)
		vals = append(vals, v)
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		add(k, v, true)
	}
	for _, m := range merges {
		for m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		if m.Kind != yaml.MappingNode {
			w.fail(path, at, "a merge (<<) must name a mapping, got %s", kindName(m))
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			add(m.Content[i], m.Content[i+1], false)
		}
	}
	return keys, vals, true
}

// expand replaces ${VAR}, ${VAR:-default} and $$ in a scalar node, in
// place, as the gateway's configuration does (config.ExpandEnv). A plain
// scalar loses its tag, so that it is typed again.
func (w *walker) expand(path string, at, n *yaml.Node) bool {
	if !strings.Contains(n.Value, "$") {
		return true
	}
	v, problems := config.ExpandEnv(n.Value, w.getenv)
	for _, p := range problems {
		w.fail(path, at, "%s", p)
	}
	if len(problems) > 0 {
		return false
	}
	n.Value = v
	if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		n.Tag = ""
	}
	return true
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeError converts the errors of the final decoding, which the walk
// should have caught already.
func (w *walker) decodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &config.Error{File: w.file, Msg: err.Error()}
	}
	var out []*config.Error
	for _, msg := range te.Errors {
		e := &config.Error{File: w.file, Msg: msg}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Column, e.Msg = 1, m[2]
		}
		out = append(out, e)
	}
	return joinErrors(out)
}

var syntaxLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxError(name string, err error) *config.Error {
	e := &config.Error{File: name, Line: 1, Column: 1, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := syntaxLineRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		if strings.HasPrefix(e.Msg, "did not find expected") {
			e.Line++ // the parser counts these lines from 0
		}
		e.Line = max(e.Line, 1)
	}
	return e
}

// joinErrors sorts errors by position and joins them.
func joinErrors(errs []*config.Error) error {
	slices.SortStableFunc(errs, func(a, b *config.Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// joinPath appends a key to a path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parentPath strips the last ".name" or "[i]" of a key path.
func parentPath(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// suggestKey returns " (did you mean x?)" or the list of valid keys.
func suggestKey(key string, names []string) string {
	if best := config.Suggest(key, names); best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return " (valid keys: " + strings.Join(sorted, ", ") + ")"
}
