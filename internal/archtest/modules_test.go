package archtest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// forbidden are the modules the core module must not require, even for
// tests: a requirement in our go.mod raises every user's copy by minimal
// version selection (v2.3.0 of the anchor broke the counterfeiter mocks of
// chaincode still on v2.1). They live in fabricshim/, bench/ and e2e/,
// which have modules of their own.
var forbidden = []string{
	"github.com/hyperledger/fabric-chaincode-go",
	"github.com/hyperledger/fabric-contract-api-go",
}

// testServers are the heavy servers the PKI tests run against: step-ca
// (about a hundred modules) and the SQLite driver of cfssl's certificate
// database (cgo). Only the test module pkitest requires them; the core
// module's go.mod and packages, tests included, must not. They may stay in
// the core's module graph (cfssl's own go.mod names go-sqlite3), where
// they link nothing.
var testServers = []string{
	"github.com/smallstep/certificates",
	"github.com/mattn/go-sqlite3",
}

// forbiddenModule returns the forbidden module that path (a module or
// package path, any major version) belongs to, or "".
func forbiddenModule(path string) string { return moduleIn(forbidden, path) }

// testServerModule returns the test server module path belongs to, or "".
func testServerModule(path string) string { return moduleIn(testServers, path) }

func moduleIn(mods []string, path string) string {
	for _, m := range mods {
		if path == m || strings.HasPrefix(path, m+"/") {
			return m
		}
	}
	return ""
}

// forbiddenLines returns the lines of go list -m or go.mod output that
// name a forbidden module.
func forbiddenLines(out string) []string {
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		for _, f := range strings.Fields(line) {
			if forbiddenModule(f) != "" {
				bad = append(bad, strings.TrimSpace(line))
				break
			}
		}
	}
	return bad
}

func goOutput(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestCoreModuleRequiresNoAnchor checks both what go.mod says and the
// module graph Go builds from it (which includes what our requirements
// require).
func TestCoreModuleRequiresNoAnchor(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"go.mod", []string{"mod", "edit", "-print"}},
		{"module graph", []string{"list", "-m", "all"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := goOutput(t, tc.args...)
			if !strings.Contains(out, "google.golang.org/grpc") {
				t.Fatalf("go %s lists no grpc: not the core module's output?\n%s", strings.Join(tc.args, " "), out)
			}
			for _, line := range forbiddenLines(out) {
				t.Errorf("the core module's %s lists %q", tc.name, line)
			}
		})
	}
}

// TestCoreModuleRequiresNoTestServer: the core's go.mod names neither
// step-ca nor the SQLite driver, not even as indirect.
func TestCoreModuleRequiresNoTestServer(t *testing.T) {
	out := goOutput(t, "mod", "edit", "-print")
	for _, line := range strings.Split(out, "\n") {
		for _, f := range strings.Fields(line) {
			if m := testServerModule(f); m != "" {
				t.Errorf("the core module's go.mod lists %q; %s belongs in pkitest/go.mod", strings.TrimSpace(line), m)
			}
		}
	}
}

// The check must be able to fail.
func TestForbiddenLines(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"github.com/hyperledger/fabric-chaincode-go/v2 v2.3.0", 1},
		{"\tgithub.com/hyperledger/fabric-chaincode-go v0.0.0-20230228194215-b84622ba6a7a // indirect", 1},
		{"github.com/hyperledger/fabric-contract-api-go/v2 v2.2.0", 1},
		{"github.com/hyperledger/fabric-chaincode-go/v2/shim", 1},
		{"github.com/hyperledger/fabric-protos-go-apiv2 v0.3.7\ngoogle.golang.org/grpc v1.85.0", 0},
		{"github.com/hyperledger/fabric-chaincode-go-extra v1.0.0", 0},
	}
	for _, tc := range tests {
		if got := forbiddenLines(tc.in); len(got) != tc.want {
			t.Errorf("forbiddenLines(%q) = %q, want %d lines", tc.in, got, tc.want)
		}
	}
}
