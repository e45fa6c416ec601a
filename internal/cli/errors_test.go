package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errVerify = errors.New("verification failed")

// testProgram has one code of its own, as ccpki has for verification.
func testProgram() Program {
	return Program{Name: "tool", Codes: []ExitCode{{Err: errVerify, Code: 3}}}
}

func TestExitCodeAndPrinting(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
		text string
	}{
		{"success", nil, 0, ""},
		{"plain failure", errors.New("disk full"), 1, "tool: disk full\n"},
		{"wrapped failure", fmt.Errorf("write x: %w", fs.ErrPermission), 1, "tool: write x: permission denied\n"},
		{"usage", Usage(errors.New("--out is required")), 2, "tool: --out is required\n"},
		{"usagef wraps", Usagef("--layout %q: %w", "x", fs.ErrInvalid), 2, "tool: --layout \"x\": invalid argument\n"},
		{"usage inside a wrap", fmt.Errorf("issue: %w", Usagef("no --dns")), 2, "tool: issue: no --dns\n"},
		{"own code", Exit(19, errors.New("ccid mismatch")), 19, "tool: ccid mismatch\n"},
		{"sentinel code", fmt.Errorf("a.crt: %w", errVerify), 3, "tool: a.crt: verification failed\n"},
		{"own code wins over the sentinel", Exit(1, errVerify), 1, "tool: verification failed\n"},
		{"outer code wins", Usage(Exit(5, errors.New("x"))), 2, "tool: x\n"},
		{"code zero never exits 0", &Error{Err: errors.New("x")}, 1, "tool: x\n"},
		{"hint", WithHint(errors.New("pin mismatch"), "start the server with --pin"), 1,
			"tool: pin mismatch\n  fix: start the server with --pin\n"},
		{"hint keeps the code", WithHint(Usagef("bad"), "see 'tool --help'"), 2, "tool: bad\n  fix: see 'tool --help'\n"},
		{"hint and code together", &Error{Code: 12, Hint: "use the right CA", Err: errors.New("unknown authority")}, 12,
			"tool: unknown authority\n  fix: use the right CA\n"},
		{"inner hint", Usage(WithHint(errors.New("x"), "y")), 2, "tool: x\n  fix: y\n"},
		{"outer hint wins", WithHint(WithHint(errors.New("x"), "inner"), "outer"), 1, "tool: x\n  fix: outer\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testProgram().ExitCode(tt.err); got != tt.code {
				t.Errorf("ExitCode = %d, want %d", got, tt.code)
			}
			var out bytes.Buffer
			testProgram().PrintError(&out, tt.err)
			if out.String() != tt.text {
				t.Errorf("printed %q, want %q", out.String(), tt.text)
			}
			if got := IsUsage(tt.err); got != (tt.code == ExitUsage) {
				t.Errorf("IsUsage = %v", got)
			}
		})
	}
}

func TestConstructorsKeepNil(t *testing.T) {
	for name, err := range map[string]error{"Usage": Usage(nil), "Exit": Exit(3, nil), "WithHint": WithHint(nil, "x")} {
		if err != nil {
			t.Errorf("%s(nil) = %v, want nil", name, err)
		}
	}
}

func TestErrorsAsAndIs(t *testing.T) {
	err := Usagef("reading %s: %w", "a.pem", fs.ErrNotExist)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("Usagef does not wrap with %w")
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != ExitUsage {
		t.Errorf("errors.As: %+v", e)
	}
}
