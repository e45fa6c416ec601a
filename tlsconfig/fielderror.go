package tlsconfig

import (
	"errors"
	"strconv"
	"strings"
)

// FieldError is what spec validation and construction return: the field
// at fault and why. Callers that expose the spec under other names (a
// command line, shim.TLSProperties, the With... options) find it with
// errors.As and either map Field to their own name or let Message word the
// whole sentence with their names:
//
//	var fe *tlsconfig.FieldError
//	if errors.As(err, &fe) {
//		fmt.Println(fe.Message(func(field string) string { return flagFor[field] }))
//	}
//
// It matches ErrMissing, ErrConflict, ErrBadOption or the sentinel of the
// underlying failure (ErrKeyMismatch, ErrExpired, ...) with errors.Is.
type FieldError struct {
	Field string // the spec field to change, e.g. "Pins"
	Value string // the offending element of a list field (one pin), if any; never key material
	Err   error  // the cause

	// text is the message with each field written {Name}; see expand.
	text string
	// names names the fields in Error; nil names them by their Go field
	// names (ServerConfig and ClientConfig name their options instead).
	names func(string) string
}

func (e *FieldError) Error() string { return "tlsconfig: " + e.Message(e.names) }

func (e *FieldError) Unwrap() error { return e.Err }

// Message words the error with name(field) in place of each spec field it
// mentions. name may return "" for fields the caller has no name for: an
// alternative that only they offer is left out of the sentence. A nil name
// uses the spec's field names.
func (e *FieldError) Message(name func(field string) string) string {
	if name == nil {
		name = func(f string) string { return f }
	}
	text := e.text
	if text == "" {
		text = "{" + e.Field + "}: {err}"
	}
	return expand(text, name, e.Value, e.Err)
}

// fieldErr reports a failure of the material a field names (a file that
// does not load, a PEM that does not parse).
func fieldErr(field string, err error) *FieldError { return &FieldError{Field: field, Err: err} }

// specErr reports a field against the spec's rules; text is a constant
// sentence in expand's syntax and class says what kind of mistake it is.
func specErr(field, text string, class error, also ...error) *FieldError {
	return &FieldError{Field: field, Err: classed(class, also...), text: text}
}

// valueErr reports one bad element of a list field.
func valueErr(field, value string, err error) *FieldError {
	return &FieldError{Field: field, Value: value, Err: err, text: "{" + field + "} {value}: {err}"}
}

// expand renders a message template:
//
//	{Field}     name(Field), or Field itself when name has none for it
//	{A|B|C}     the named ones among A, B and C joined with " or "
//	[...]       the text inside, or nothing if a field in it has no name
//	{value}     the FieldError's Value, quoted
//	{err}       the cause's text, without this package's prefix
//
// Templates are constants of this package; values and causes are only
// ever substituted, never parsed, so their braces cannot inject anything.
func expand(text string, name func(string) string, value string, cause error) string {
	var out strings.Builder
	for text != "" {
		open := strings.IndexByte(text, '[')
		if open < 0 {
			s, _ := expandRefs(text, name, value, cause, false)
			out.WriteString(s)
			break
		}
		s, _ := expandRefs(text[:open], name, value, cause, false)
		out.WriteString(s)
		end := strings.IndexByte(text[open:], ']')
		if end < 0 {
			end = len(text) - open
		}
		if s, ok := expandRefs(text[open+1:open+end], name, value, cause, true); ok {
			out.WriteString(s)
		}
		text = text[min(open+end+1, len(text)):]
	}
	return out.String()
}

// expandRefs replaces the {...} references of one segment. In an optional
// segment a field without a name makes the whole segment go (ok false).
func expandRefs(seg string, name func(string) string, value string, cause error, optional bool) (string, bool) {
	var out strings.Builder
	for {
		open := strings.IndexByte(seg, '{')
		closing := strings.IndexByte(seg[max(open, 0):], '}')
		if open < 0 || closing < 0 {
			out.WriteString(seg)
			return out.String(), true
		}
		out.WriteString(seg[:open])
		ref := seg[open+1 : open+closing]
		seg = seg[open+closing+1:]
		switch ref {
		case "value":
			out.WriteString(strconv.Quote(value))
			continue
		case "err":
			if cause != nil {
				out.WriteString(strings.TrimPrefix(cause.Error(), "tlsconfig: "))
			}
			continue
		}
		alts := strings.Split(ref, "|")
		var named []string
		for _, f := range alts {
			if n := name(f); n != "" {
				named = append(named, n)
			}
		}
		if len(named) == 0 {
			if optional {
				return "", false
			}
			named = alts
		}
		out.WriteString(strings.Join(named, " or "))
	}
}

// Rename words err's FieldError with name(field) for each spec field, for
// a caller that exposes the spec under other names (flags, environment
// variables): the text is Message(name), without this package's prefix,
// and errors.As and errors.Is still reach the FieldError and its cause.
// An error without a FieldError comes back unchanged.
func Rename(err error, name func(field string) string) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return &renamedError{msg: fe.Message(name), err: err}
}

type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }
