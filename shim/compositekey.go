package shim

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// compositeKeyNamespace starts every composite key, which keeps them
	// apart from simple keys in range queries.
	compositeKeyNamespace = "\x00"
	// emptyKeySubstitute replaces an empty range start so the range skips
	// the composite-key namespace.
	emptyKeySubstitute = "\x01"
	maxUnicodeRune     = utf8.MaxRune
)

// ErrNotCompositeKey is returned by SplitCompositeKey for a key that was not
// made by CreateCompositeKey.
var ErrNotCompositeKey = errors.New("not a composite key")

// CreateCompositeKey joins objectType and attributes into a key of the form
// 0x00 objectType 0x00 (attribute 0x00)*. Each part must be valid UTF-8 and
// contain neither U+0000 nor U+10FFFF.
func CreateCompositeKey(objectType string, attributes []string) (string, error) {
	if err := validateCompositeKeyAttribute(objectType); err != nil {
		return "", err
	}
	n := len(compositeKeyNamespace) + len(objectType) + 1
	for _, a := range attributes {
		if err := validateCompositeKeyAttribute(a); err != nil {
			return "", err
		}
		n += len(a) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(compositeKeyNamespace)
	b.WriteString(objectType)
	b.WriteByte(0)
	for _, a := range attributes {
		b.WriteString(a)
		b.WriteByte(0)
	}
	return b.String(), nil
}

// splitCompositeKey is the inverse of CreateCompositeKey. Unlike the
// original shim it returns an error, not a panic, for other keys.
func splitCompositeKey(compositeKey string) (string, []string, error) {
	if len(compositeKey) < 2 || compositeKey[0] != 0 || compositeKey[len(compositeKey)-1] != 0 {
		return "", nil, fmt.Errorf("split %q: %w (it must start and end with 0x00; make it with CreateCompositeKey)", compositeKey, ErrNotCompositeKey)
	}
	rest := compositeKey[1 : len(compositeKey)-1]
	parts := strings.Split(rest, "\x00")
	return parts[0], parts[1:], nil
}

func validateCompositeKeyAttribute(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not a valid utf8 string: [%x]", s)
	}
	for i, r := range s {
		if r == 0 || r == maxUnicodeRune {
			return fmt.Errorf("input contains unicode %#U starting at position [%d]. %#U and %#U are not allowed in the input attribute of a composite key",
				r, i, rune(0), rune(maxUnicodeRune))
		}
	}
	return nil
}

// validateSimpleKeys rejects range bounds inside the composite-key namespace.
func validateSimpleKeys(keys ...string) error {
	for _, k := range keys {
		if k != "" && k[0] == 0 {
			return fmt.Errorf("first character of the key [%s] contains a null character which is not allowed", k)
		}
	}
	return nil
}

func partialCompositeKeyRange(objectType string, attributes []string) (string, string, error) {
	start, err := CreateCompositeKey(objectType, attributes)
	if err != nil {
		return "", "", err
	}
	return start, start + string(rune(maxUnicodeRune)), nil
}
