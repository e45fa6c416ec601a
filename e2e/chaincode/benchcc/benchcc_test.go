package benchcc_test

import (
	"strings"
	"testing"

	"github.com/ccserver/ccserver/e2e/chaincode/benchcc"
	"github.com/ccserver/ccserver/shimtest"
)

// TestWorkloads runs every function on our shim's engine against an
// in-memory peer: unseeded reads fail, seeded ones answer what the
// benchmark expects, put reads then writes.
func TestWorkloads(t *testing.T) {
	l := shimtest.New(t, benchcc.Ours{})
	for _, fn := range []string{"get", "range"} {
		if r := l.Query(fn); r.OK() || !strings.Contains(r.Message, "seed") {
			t.Fatalf("%s before seed: %s, want a failure naming seed", fn, r)
		}
	}
	if got := string(l.MustInvoke(t, "seed")); got != "100" {
		t.Fatalf("seed = %q", got)
	}
	if got, want := string(l.MustQuery(t, "get")), string(benchcc.SeedValue(42)); got != want {
		t.Fatalf("get = %q, want %q", got, want)
	}
	if got := string(l.MustQuery(t, "range")); got != "100" {
		t.Fatalf("range = %q", got)
	}
	l.MustInvoke(t, "put", "w01", "v1")
	l.MustInvoke(t, "put", "w01", "v2")
	if got := string(l.State("w01")); got != "v2" {
		t.Fatalf("w01 = %q after two puts", got)
	}
	if r := l.Invoke("put", "w01"); r.OK() {
		t.Fatalf("put with one argument: %s", r)
	}
	if r := l.Query("nosuch"); r.OK() || !strings.Contains(r.Message, "unknown function") {
		t.Fatalf("nosuch: %s", r)
	}
}
