// Package cli holds the manners ccpki, ccpeer and ccserver share, so a
// script or an operator meets one behaviour in all three: the exit-code
// scheme (0 ok, 1 failed, 2 usage, command-specific codes above), one
// usage-error type, errors printed as one line "<cmd>: <error>" with an
// optional "  fix: <hint>" line, --version from the build info, and
// running a cobra root with a context that SIGINT and SIGTERM cancel.
//
// Only commands import this package: it depends on cobra, which library
// packages must not.
package cli

import (
	"errors"
	"fmt"
	"io"
)

// The exit codes every command shares. Commands document their own codes
// above these (ccpki 3 to 5, ccpeer 10 to 20) and give them with Exit or
// Program.Codes.
const (
	ExitOK     = 0 // success
	ExitFailed = 1 // the operation failed
	ExitUsage  = 2 // the command line is wrong: unknown, missing or contradictory flags or arguments
)

// Error attaches an exit code, a hint, or both to an error. A zero Code
// leaves the exit code to the wrapped error, so a hint can be added without
// changing it; an empty Hint likewise leaves the hint to the wrapped error.
type Error struct {
	Code int    // exit code; 0: decided by Err
	Hint string // what to do about it, printed on a line of its own
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usage marks err as the caller's command line rather than the operation:
// exit 2.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: ExitUsage, Err: err}
}

// Usagef is Usage of a formatted error; %w wraps as in fmt.Errorf.
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// Exit gives err its own exit code.
func Exit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// WithHint adds what to do about err, printed below it; the exit code
// stays the one err has.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Hint: hint, Err: err}
}

// IsUsage reports whether err carries the usage exit code.
func IsUsage(err error) bool {
	code, ok := ownCode(err)
	return ok && code == ExitUsage
}

// ownCode is the code of the outermost Error in err's chain that has one.
func ownCode(err error) (int, bool) {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return 0, false
		}
		if e.Code != 0 {
			return e.Code, true
		}
		err = e.Err
	}
	return 0, false
}

// hint is the hint of the outermost Error in err's chain that has one.
func hint(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Hint != "" {
			return e.Hint
		}
		err = e.Err
	}
	return ""
}

// ExitCode maps a sentinel error (matched with errors.Is) to the exit code
// a command documents for it.
type ExitCode struct {
	Err  error
	Code int
}

// Program is what one command line's manners depend on: its name, which
// prefixes its errors and its version line, and the exit codes of its own.
type Program struct {
	Name string
	// Codes are checked in order for errors that carry no code of their
	// own (Exit, Usage); anything else exits 1.
	Codes []ExitCode
}

// ExitCode is the exit code for err: 0 for nil, the code err carries,
// the first of p.Codes it matches, else 1. An error never exits 0.
func (p Program) ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if code, ok := ownCode(err); ok {
		return code
	}
	for _, c := range p.Codes {
		if errors.Is(err, c.Err) && c.Code != ExitOK {
			return c.Code
		}
	}
	return ExitFailed
}

// PrintError writes err as "<name>: <error>" and, if it carries a hint, a
// second line "  fix: <hint>".
func (p Program) PrintError(w io.Writer, err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(w, "%s: %v\n", p.Name, err)
	if h := hint(err); h != "" {
		fmt.Fprintf(w, "  fix: %s\n", h)
	}
}
