package idempotency

import (
	"errors"
	"strings"
)

// MaxKeyLength is the longest key ParseKey accepts, in bytes after removing
// the quotes and escapes of the string form.
const MaxKeyLength = 255

// Reasons ParseKey gives, wrapped around [ErrKeyInvalid].
var (
	errKeyEmpty     = errors.New("empty")
	errKeyLong      = errors.New("longer than 255 bytes")
	errKeyMultiple  = errors.New("more than one field line")
	errKeySyntax    = errors.New("neither a structured-field string nor a token")
	errKeyTrailing  = errors.New("characters after the closing quote")
	errKeyUntermStr = errors.New("unterminated string")
)

// ParseKey parses the field lines of an Idempotency-Key header (the values
// of http.Header for the field, in order) and returns the key.
//
// The IETF draft defines the field as an RFC 8941 Item whose value is a
// String; many clients send the key bare. Both forms are accepted and give
// the same key, so `"abc-123"` and `abc-123` are one key:
//
//   - a String: a double quote, then characters %x20-7E where a double quote
//     and a backslash are escaped with a backslash, then a double quote. The
//     key is the unescaped content;
//   - a bare key: one or more token characters (RFC 9110 tchar: letters,
//     digits and !#$%&'*+-.^_`|~) or ":" and "/". Unlike an RFC 8941 Token,
//     it may start with a digit, so that a bare UUID is a key.
//
// Space and horizontal tab around the value are ignored. ParseKey returns an
// error matching [ErrKeyInvalid] when there is not exactly one field line,
// when the value is neither form (a list, parameters, control characters or
// bytes outside ASCII), or when the key is empty or longer than
// [MaxKeyLength] bytes. It does not allocate unless the string form holds
// escapes. ParseKey is safe for concurrent use.
func ParseKey(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", ErrKeyMissing
	case 1:
	default:
		return "", &KeyError{reason: errKeyMultiple}
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return "", &KeyError{reason: errKeyEmpty}
	}
	if v[0] != '"' {
		for i := 0; i < len(v); i++ {
			if !isKeyChar(v[i]) {
				return "", &KeyError{reason: errKeySyntax}
			}
		}
		if len(v) > MaxKeyLength {
			return "", &KeyError{reason: errKeyLong}
		}
		return v, nil
	}
	key, err := parseString(v)
	if err != nil {
		return "", &KeyError{reason: err}
	}
	if key == "" {
		return "", &KeyError{reason: errKeyEmpty}
	}
	if len(key) > MaxKeyLength {
		return "", &KeyError{reason: errKeyLong}
	}
	return key, nil
}

// parseString parses an RFC 8941 String that starts at v[0] and must end
// at the end of v.
func parseString(v string) (string, error) {
	escapes := false
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			if i+1 >= len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
				return "", errKeySyntax
			}
			escapes = true
			i++
		case c == '"':
			if i != len(v)-1 {
				return "", errKeyTrailing
			}
			if !escapes {
				return v[1:i], nil
			}
			return unescape(v[1:i]), nil
		case c < 0x20 || c > 0x7e:
			return "", errKeySyntax
		}
	}
	return "", errKeyUntermStr
}

// unescape removes the backslashes of a valid String's content.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isKeyChar reports whether c may appear in a bare key: an RFC 9110 tchar,
// ":" or "/".
func isKeyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}
