package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the file at path and parses it with Parse, naming it path in
// errors. It then reads admin.token_file and each route's
// fallback.body_file, relative to the directory of path: the token (with
// surrounding space trimmed) goes to Admin.Token and the body to
// Fallback.Body, and the file keys are cleared, so the Config holds the
// content itself and validates again as it is.
//
// getenv looks up the variables of ${VAR} references; nil means os.Getenv.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the path is the operator's own configuration file
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	c, err := Parse(path, data, getenv)
	if err != nil {
		return nil, err
	}
	if err := c.readFiles(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return c, nil
}

// maxFileBytes bounds token_file and body_file.
const maxFileBytes = 10 << 20

func (c *Config) readFiles(dir string) error {
	var errs errList
	read := func(key, name string) (string, bool) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		f, err := os.Open(name) //nolint:gosec // a path the operator's configuration names
		if err != nil {
			errs.add(key, "%v", err)
			return "", false
		}
		defer f.Close() //nolint:errcheck // read only
		b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
		switch {
		case err != nil:
			errs.add(key, "%v", err)
			return "", false
		case len(b) > maxFileBytes:
			errs.add(key, "%s is larger than 10MiB", name)
			return "", false
		}
		return string(b), true
	}
	if c.Admin.TokenFile != "" {
		if s, ok := read("admin.token_file", c.Admin.TokenFile); ok {
			c.Admin.Token, c.Admin.TokenFile = strings.TrimSpace(s), ""
			if c.Admin.Token == "" {
				errs.add("admin.token_file", "the file is empty")
			}
		}
	}
	for i := range c.Routes {
		if fb := c.Routes[i].Fallback; fb != nil && fb.BodyFile != "" {
			if s, ok := read("routes["+strconv.Itoa(i)+"].fallback.body_file", fb.BodyFile); ok {
				fb.Body, fb.BodyFile = s, ""
				if c.Routes[i].Fallback.ContentType == "" {
					fb.ContentType = contentTypeOf(s)
				}
			}
		}
	}
	return c.locate(errs)
}

// Parse parses a configuration from data, applies the defaults and
// validates it. name names the file in errors. It reports every problem it
// finds, as *Error values joined with errors.Join and sorted by line; if
// the file does not decode, the semantic checks are not run.
//
// Before a scalar value is decoded, ${VAR} is replaced with getenv("VAR"),
// ${VAR:-text} with text when VAR is empty or unset, and $$ with $; a VAR
// that is empty or unset without a default is an error. An unquoted value
// is typed after the replacement, so "attempts: ${N}" may hold an
// integer. getenv nil means os.Getenv. Parse does not read token_file or
// body_file: Load does.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{file: name, pos: map[string]position{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(name, err)
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			if err != nil {
				return nil, syntaxError(name, err)
			}
			return nil, &Error{File: name, Line: max(1, extra.Line), Column: extra.Column, Msg: "only one YAML document is allowed"}
		}
		d := decoder{getenv: getenv, pos: c.pos}
		if len(doc.Content) > 0 {
			root := doc.Content[0]
			d.decode("", root, root, reflect.ValueOf(c).Elem())
		}
		if len(d.errs) > 0 {
			for _, e := range d.errs {
				e.File = name
			}
			return nil, join(d.errs)
		}
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserErrors are the messages of the YAML parser (not its scanner):
// go.yaml.in/yaml/v3 reports their lines counted from 0, and leaves out
// line 0.
var parserErrors = []string{
	"did not find expected <document start>", "did not find expected node content",
	"did not find expected key", "did not find expected '-' indicator",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
}

// syntaxError converts an error of the YAML parser. Without a line, the
// error is on line 1.
func syntaxError(name string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if slices.Contains(parserErrors, msg) {
		line++
	}
	return &Error{File: name, Line: max(1, line), Column: 1, Msg: msg}
}

// locate fills in the file and the position of each error's key (or of its
// nearest ancestor that appears in the file), then joins them.
func (c *Config) locate(errs []*Error) error {
	for _, e := range errs {
		e.File = c.file
		for k := e.Key; k != ""; k = parentKey(k) {
			if p, ok := c.pos[k]; ok {
				e.Line, e.Column = p.line, p.col
				break
			}
		}
	}
	return join(errs)
}

// parentKey strips the last ".name" or "[i]" of a key path.
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ExpandEnv replaces ${VAR} in s with getenv("VAR"), ${VAR:-text} with
// text when VAR is empty or unset, and $$ with $. It returns the result and
// what was wrong with s — an unterminated ${, an invalid name, an unset
// variable without default — one message each; the result is only
// meaningful when there are none. The gateway's configuration and
// experiment files share it.
func ExpandEnv(s string, getenv func(string) string) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var problems []string
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", append(problems, "unterminated ${ (write $$ for a literal $)")
			}
			name, def, hasDef := strings.Cut(s[i+2:i+2+end], ":-")
			i += 2 + end + 1
			if !varNameRE.MatchString(name) {
				problems = append(problems, fmt.Sprintf("invalid environment variable name %q in ${...}", name))
				continue
			}
			v := getenv(name)
			if v == "" && hasDef {
				v = def
			} else if v == "" {
				problems = append(problems, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name))
				continue
			}
			b.WriteString(v)
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), problems
}

// expand returns n with ${VAR} references in its value replaced; n itself
// if it has none. It reports bad references and unset variables.
func (d *decoder) expand(path string, at, n *yaml.Node) (*yaml.Node, bool) {
	if !strings.Contains(n.Value, "$") {
		return n, true
	}
	v, problems := ExpandEnv(n.Value, d.getenv)
	for _, p := range problems {
		d.fail(path, at, "%s", p)
	}
	if len(problems) > 0 {
		return nil, false
	}
	cp := *n
	cp.Value = v
	if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		cp.Tag = "" // typed again from the new text
	}
	return &cp, true
}
