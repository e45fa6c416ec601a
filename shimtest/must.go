package shimtest

import (
	"strings"
	"testing"
)

// The Must helpers fail the test when the chaincode does not answer with
// a status below 400, and return the payload. They take the test to fail
// explicitly, so a Ledger shared by subtests fails the right one.

// MustInit runs Init like Init and returns the payload.
func (l *Ledger) MustInit(t testing.TB, args ...string) []byte {
	t.Helper()
	return must(t, "Init", args, l.Init(args...))
}

// MustInvoke runs Invoke like Invoke and returns the payload.
func (l *Ledger) MustInvoke(t testing.TB, args ...string) []byte {
	t.Helper()
	return must(t, "Invoke", args, l.Invoke(args...))
}

// MustQuery runs Query like Query and returns the payload.
func (l *Ledger) MustQuery(t testing.TB, args ...string) []byte {
	t.Helper()
	return must(t, "Query", args, l.Query(args...))
}

func must(t testing.TB, what string, args []string, r *Result) []byte {
	t.Helper()
	if !r.OK() {
		t.Fatalf("%s %s: %s", what, strings.Join(args, " "), r)
	}
	return r.Payload
}
