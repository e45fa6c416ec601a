package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// counterModule copies the counter chaincode of migrate's corpus to a
// temporary directory.
func counterModule(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "internal", "migrate", "testdata", "corpus", "counter")
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "counter.go", "counter_test.go"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRun(t *testing.T) {
	const version = "--ccserver-version=v0.1.0"
	tests := []struct {
		name       string
		args       func(dir string) []string
		wantCode   int
		wantStdout string
		wantStderr string
		wantWrote  bool
	}{
		{"help", func(string) []string { return []string{"--help"} }, 0, "Usage:\n  ccmigrate [--diff]", "", false},
		{"version", func(string) []string { return []string{"--version"} }, 0, "ccmigrate version ", "", false},
		{"unknown flag", func(string) []string { return []string{"--nope"} }, 2, "", "unknown flag: --nope", false},
		{"two directories", func(dir string) []string { return []string{version, dir, dir} }, 2, "", "accepts at most 1 arg(s)", false},
		{"no version", func(dir string) []string { return []string{"--ccserver-version=", dir} }, 2, "", "fix: name one with --ccserver-version", false},
		{"not a module", func(dir string) []string { return []string{version, filepath.Join(dir, "nosuch")} }, 1, "",
			"fix: run ccmigrate in the chaincode's module root", false},
		{"diff", func(dir string) []string { return []string{version, "--diff", dir} }, 0,
			"+func (c *Counter) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {", "would rewrite 2 Go files", false},
		{"rewrite", func(dir string) []string { return []string{version, dir} }, 0, "", "next: go mod tidy", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := counterModule(t)
			before, _ := os.ReadFile(filepath.Join(dir, "counter.go"))
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args(dir), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantStdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, stderr.String())
			}
			after, _ := os.ReadFile(filepath.Join(dir, "counter.go"))
			if wrote := !bytes.Equal(before, after); wrote != tc.wantWrote {
				t.Errorf("counter.go rewritten: %v, want %v", wrote, tc.wantWrote)
			}
			if tc.wantWrote && !bytes.Contains(after, []byte(`"github.com/ccserver/ccserver/shim"`)) {
				t.Errorf("counter.go after the rewrite:\n%s", after)
			}
		})
	}
}
