package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes a decode visits, aliases expanded, so that a
// small file of nested aliases cannot make it run for ever.
const maxNodes = 100_000

// decoder decodes a yaml.Node tree into a Config by reflection, collecting
// every error with its key path and recording where each key appears.
type decoder struct {
	getenv  func(string) string
	pos     map[string]position
	errs    errList
	visited int
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{Key: path, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func join2(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode decodes n into v, which is addressable. at is where errors about
// the value are reported: the key's node, or the item itself in a list.
func (d *decoder) decode(path string, at, n *yaml.Node, v reflect.Value) {
	d.visited++
	if d.visited > maxNodes {
		if d.visited == maxNodes+1 {
			d.fail(path, at, "the document is too large or uses too many aliases")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		expanded, ok := d.expand(path, at, n)
		if !ok {
			return
		}
		n = expanded
		if n.ShortTag() == "!!null" {
			return // absent: the default
		}
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(path, at, "%s", err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(path, at, n, v)
	case reflect.Map:
		d.mapping(path, at, n, v)
	case reflect.Slice:
		d.sequence(path, at, n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, at, "must be a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.fail(path, at, "must be true or false, got %s", kindName(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.fail(path, at, "must be true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || i < math.MinInt32 || i > math.MaxInt32 {
			d.fail(path, at, "must be an integer, got %s", kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint64:
		var u uint64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&u) != nil {
			d.fail(path, at, "must be an integer from 0 to %d, got %s", uint64(math.MaxUint64), kindName(n))
			return
		}
		v.SetUint(u)
	case reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(path, at, "must be a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		panic("config: unsupported field kind " + v.Kind().String())
	}
}

// pairs returns the key/value pairs of a mapping node: its own keys, then
// the keys of merged mappings (<<) that it does not set itself. It reports
// duplicate and non-string keys.
func (d *decoder) pairs(path string, at, n *yaml.Node, what string) (keys, vals []*yaml.Node, ok bool) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, at, "must be %s, got %s", what, kindName(n))
		return nil, nil, false
	}
	seen := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k, "keys must be strings, got %s", kindName(k))
			continue
		}
		if j, dup := seen[k.Value]; dup {
			d.fail(join2(path, k.Value), k, "duplicate key (first at line %d)", keys[j].Line)
			continue
		}
		seen[k.Value] = len(keys)
		keys = append(keys, k)
		vals = append(vals, val)
	}
	for _, m := range merges {
		for m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		list := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			list = m.Content
		}
		for _, src := range list {
			for src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				d.fail(path, at, "a merge (<<) must name a mapping, got %s", kindName(src))
				continue
			}
			for i := 0; i+1 < len(src.Content); i += 2 {
				k := src.Content[i]
				if _, dup := seen[k.Value]; dup || k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
					continue
				}
				seen[k.Value] = len(keys)
				keys = append(keys, k)
				vals = append(vals, src.Content[i+1])
			}
		}
	}
	return keys, vals, true
}

// fieldInfo is a struct's YAML keys.
type fieldInfo struct {
	names []string
	index map[string]int
}

func fieldsOf(t reflect.Type) fieldInfo {
	fi := fieldInfo{index: map[string]int{}}
	for i := range t.NumField() {
		name := yamlName(t.Field(i))
		if name == "" {
			continue
		}
		fi.names = append(fi.names, name)
		fi.index[name] = i
	}
	return fi
}

// yamlName returns the YAML key of a struct field, or "" if it has none.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if !f.IsExported() || name == "-" {
		return ""
	}
	return name
}

func (d *decoder) structure(path string, at, n *yaml.Node, v reflect.Value) {
	keys, vals, ok := d.pairs(path, at, n, "a mapping")
	if !ok {
		return
	}
	fi := fieldsOf(v.Type())
	for i, k := range keys {
		p := join2(path, k.Value)
		j, known := fi.index[k.Value]
		if !known && path == "" && strings.HasPrefix(k.Value, "x-") {
			continue // an extension key, for anchors
		}
		if !known {
			d.fail(p, k, "unknown key%s", didYouMeanOrList(k.Value, fi.names, "valid keys"))
			continue
		}
		d.pos[p] = position{k.Line, k.Column}
		d.decode(p, k, vals[i], v.Field(j))
	}
}

func (d *decoder) mapping(path string, at, n *yaml.Node, v reflect.Value) {
	keys, vals, ok := d.pairs(path, at, n, "a mapping")
	if !ok {
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(keys)))
	}
	for i, k := range keys {
		p := join2(path, k.Value)
		d.pos[p] = position{k.Line, k.Column}
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(p, k, vals[i], e)
		v.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
}

func (d *decoder) sequence(path string, at, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(path, at, "must be a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := path + "[" + strconv.Itoa(i) + "]"
		d.pos[p] = position{item.Line, item.Column}
		d.decode(p, item, item, s.Index(i))
	}
	v.Set(s)
}
