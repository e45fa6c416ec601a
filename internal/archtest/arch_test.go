// Package archtest checks the import arrows of design.md: dependencies point
// down only, tlsconfig imports of ours only the helpers x509util and
// fsutil, which import nothing but the standard library, ccaas is a leaf
// (the standard library and x509util), pki never imports shim, devpeer
// never reaches into shim/internal, and library packages read no flags.
// It also checks that no exported name of a public package shows an
// internal type (api_test.go).
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/ccserver/ccserver"

type pkgInfo struct {
	path    string
	imports []string // non-test and test imports together
	prod    []string // non-test imports only
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-f",
		"{{.ImportPath}}|{{join .Imports \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", mod+"/...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkgInfo
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 {
			continue
		}
		prod := strings.Fields(parts[1])
		pkgs = append(pkgs, pkgInfo{path: parts[0], prod: prod, imports: append(prod, strings.Fields(parts[2])...)})
	}
	if len(pkgs) == 0 {
		t.Fatal("go list returned no packages")
	}
	return pkgs
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, mod), "/") }

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// layer gives each top-level part a rank; an import must go to a lower rank.
func layer(p string) int {
	switch {
	case under(p, "cmd"):
		return 5
	case under(p, "serve"), under(p, "devpeer"), under(p, "examples"):
		return 4
	case under(p, "pki"), under(p, "shimtest"):
		return 3
	case under(p, "shim"):
		return 2
	case under(p, "tlsconfig"), under(p, "ccaas"):
		return 1
	case under(p, "internal"):
		return 0
	}
	return -1
}

// stdlibHelpers are our helpers that import the standard library alone;
// they are the only packages of ours tlsconfig may import, so it stays
// light.
var stdlibHelpers = map[string]bool{
	"internal/x509util": true,
	"internal/fsutil":   true,
}

// testHelpers are the packages that only tests import: the test CA and
// the cfssl test server, which builds on it.
var testHelpers = map[string]bool{
	"internal/testpki":   true,
	"internal/testcfssl": true,
}

// isStdlib reports a standard library import path: its first element has
// no dot.
func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

func TestImportArrows(t *testing.T) {
	for _, pkg := range listPackages(t) {
		from := rel(pkg.path)
		if under(from, "internal/archtest") {
			continue
		}
		for _, imp := range pkg.imports {
			if m := forbiddenModule(imp); m != "" {
				t.Errorf("%s imports %s (module %s); it belongs in fabricshim/, bench/ or e2e/, tests included", from, imp, m)
			}
			if m := testServerModule(imp); m != "" {
				t.Errorf("%s imports %s (module %s); tests against it belong in the test module pkitest/", from, imp, m)
			}
		}
		for _, imp := range pkg.prod {
			if imp == "flag" && !under(from, "cmd") && !under(from, "serve") {
				t.Errorf("%s imports flag; only cmd/* and serve read flags", from)
			}
			if stdlibHelpers[from] && !isStdlib(imp) {
				t.Errorf("%s must import only the standard library, not %s", from, imp)
			}
			// ccaas is the package format: reading or writing a package
			// must link nothing but the standard library and x509util.
			if under(from, "ccaas") && !isStdlib(imp) && imp != mod+"/internal/x509util" {
				t.Errorf("ccaas must import only the standard library and internal/x509util, not %s", imp)
			}
			if !strings.HasPrefix(imp, mod+"/") {
				continue
			}
			to := rel(imp)
			if testHelpers[to] {
				if !testHelpers[from] {
					t.Errorf("%s imports %s outside tests", from, to)
				}
				continue // test helpers build on each other
			}
			switch {
			case under(from, "tlsconfig"):
				if !under(to, "tlsconfig") && !stdlibHelpers[to] {
					t.Errorf("tlsconfig must import only the standard library, fsnotify and the stdlib-only helpers, not %s", to)
				}
				continue
			case under(from, "pki") && under(to, "shim"):
				t.Errorf("pki must never import shim (%s imports %s)", from, to)
			case under(from, "devpeer") && under(to, "shim/internal"):
				t.Errorf("devpeer must not import shim/internal (%s imports %s)", from, to)
			case under(from, "shim") && under(to, "shim"):
				continue
			}
			if lf, lt := layer(from), layer(to); lf >= 0 && lt >= lf && !(lf == lt && under(to, topDir(from))) {
				t.Errorf("%s (layer %d) imports %s (layer %d): arrows point down only", from, lf, to, lt)
			}
		}
	}
}

func topDir(p string) string {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		if strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "internal/") {
			if j := strings.IndexByte(p[i+1:], '/'); j >= 0 {
				return p[:i+1+j]
			}
			return p
		}
		return p[:i]
	}
	return p
}
