package compat_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	ourShim    = `"github.com/ccserver/ccserver/shim"`
	anchorShim = `"github.com/hyperledger/fabric-chaincode-go/v2/shim"`
	// kvstoreDir is examples/kvstore of the core module, seen from here.
	kvstoreDir = "../../examples/kvstore"
	kvstorePkg = "github.com/ccserver/ccserver/examples/kvstore"
)

func goTool(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to compile the example: %v", err)
	}
	return gobin
}

func goRun(t *testing.T, gobin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(gobin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestSourceCompilesAgainstTheAnchorShim is the compatibility promise made
// concrete: the kvstore example's source, with only the shim import path
// switched to fabric-chaincode-go's, builds and vets cleanly against that
// shim. It lives in this module, not the core one, because the core module
// must not require the anchor (a requirement there would raise every
// user's copy of it). The copy goes inside this module (a dot-directory,
// which ./... ignores) so the anchor's version pinned in go.mod resolves.
func TestSourceCompilesAgainstTheAnchorShim(t *testing.T) {
	gobin := goTool(t)
	dir, err := os.MkdirTemp(".", ".compat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sources, err := filepath.Glob(filepath.Join(kvstoreDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	copied := 0
	for _, name := range sources {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		name = filepath.Base(name)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(src, []byte(ourShim)); n > 1 {
			t.Fatalf("%s imports the shim %d times", name, n)
		}
		out := bytes.ReplaceAll(src, []byte(ourShim), []byte(anchorShim))
		// Only the import line may differ.
		if d := lineDiff(src, out); d > 1 {
			t.Fatalf("rewriting %s changed %d lines", name, d)
		}
		if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
			t.Fatal(err)
		}
		copied++
	}
	if copied == 0 {
		t.Fatal("no source files found")
	}
	for _, pkg := range []string{kvstorePkg, "./" + dir} {
		goRun(t, gobin, "build", pkg)
		goRun(t, gobin, "vet", pkg)
	}
	imports := goRun(t, gobin, "list", "-f", "{{join .Imports \"\\n\"}}", "./"+dir)
	if !strings.Contains(imports, strings.Trim(anchorShim, `"`)) || strings.Contains(imports, strings.Trim(ourShim, `"`)) {
		t.Fatalf("the rewritten copy imports:\n%s", imports)
	}
}

func lineDiff(a, b []byte) int {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	if len(la) != len(lb) {
		return len(la) + len(lb)
	}
	n := 0
	for i := range la {
		if !bytes.Equal(la[i], lb[i]) {
			n++
		}
	}
	return n
}
