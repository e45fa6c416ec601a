package ccaas

import "errors"

// Errors to branch on with errors.Is. Every error about the content of
// connection.json, the builder config, a label or a package matches
// ErrInvalid; the others say what kind of problem it is.
var (
	// ErrInvalid is matched by every error of this package about its
	// input (as opposed to a failing io.Writer or io.Reader).
	ErrInvalid = errors.New("invalid ccaas input")
	// ErrMissing: a field the peer needs is empty.
	ErrMissing = errors.New("missing")
	// ErrType: a field has the wrong JSON type, which the builder's
	// decoding refuses.
	ErrType = errors.New("wrong JSON type")
	// ErrTemplate: a field does not parse or execute as a template, so
	// the builder fails.
	ErrTemplate = errors.New("template failed")
	// ErrNotRendered: Validate found a template action; the builder would
	// fill it, so Render the connection with the builder config first.
	ErrNotRendered = errors.New("holds a template action: render it with the builder config first")
	// ErrUnused: WritePackage refuses a field the ccaas builder would
	// silently drop, since whoever set it expects it to take effect.
	ErrUnused = errors.New("set, but the ccaas builder drops it")
	// ErrBuilderConfig: the builder config is not a JSON object.
	ErrBuilderConfig = errors.New("invalid CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG")
	// ErrLabel: the package label does not match the peer's pattern.
	ErrLabel = errors.New("invalid package label")
	// ErrPackage: ReadPackage found no ccaas package in its input.
	ErrPackage = errors.New("invalid ccaas package")
)

// FieldError is a problem with one field of connection.json. Its message
// never contains PEM material.
type FieldError struct {
	Field string // the JSON name, e.g. "dial_timeout"
	Err   error  // wraps ErrMissing, ErrType, ErrTemplate, ErrNotRendered, ErrUnused or a cause
}

func (e *FieldError) Error() string { return "connection.json: " + e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// inputError is a problem with the input that is not about one field:
// it matches ErrInvalid and kind.
type inputError struct {
	kind error  // a sentinel above
	msg  string // says where: "connection.json: ...", "ccaas package: ..."
	err  error  // the cause, or nil
}

func (e *inputError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *inputError) Unwrap() []error {
	if e.err != nil {
		return []error{e.kind, e.err}
	}
	return []error{e.kind}
}

func (e *inputError) Is(target error) bool { return target == ErrInvalid }
