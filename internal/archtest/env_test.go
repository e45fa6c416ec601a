package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readsConfig reports whether a package may read flags or the environment:
// the commands, serve (the ccserver command line) and the CLI helpers.
func readsConfig(p string) bool {
	return under(p, "cmd") || under(p, "serve") || under(p, "internal/cli") || under(p, "internal/archtest")
}

// envExceptions are the files of library packages that must read the
// environment: shim.Start honours the peer's CORE_* contract.
var envExceptions = map[string]bool{"shim/client.go": true, "shim/env.go": true}

var envFuncs = map[string]bool{"Getenv": true, "LookupEnv": true, "Environ": true}

var cliImports = map[string]bool{"github.com/spf13/pflag": true, "github.com/spf13/cobra": true, "flag": true}

// TestLibrariesReadNoConfig: library code reads no flags or environment
// (design.md); only cmd/*, serve and internal/cli do, and shim.Start.
func TestLibrariesReadNoConfig(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{.Dir}}|{{join .GoFiles \" \"}}", mod+"/...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	checked := 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 || readsConfig(rel(parts[0])) {
			continue
		}
		for _, name := range strings.Fields(parts[2]) {
			file := filepath.Join(parts[1], name)
			relFile := rel(parts[0]) + "/" + name
			if envExceptions[relFile] {
				continue
			}
			checked++
			for _, bad := range configReads(t, file) {
				t.Errorf("%s: %s; library packages read no flags or environment (only cmd/*, serve and internal/cli do)", relFile, bad)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no library files checked")
	}
}

// configReads lists the flag or environment reads of one Go file.
func configReads(t *testing.T, file string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	osName := ""
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if cliImports[path] {
			found = append(found, "imports "+path)
		}
		if path == "os" {
			osName = "os"
			if imp.Name != nil {
				osName = imp.Name.Name
			}
		}
	}
	if osName == "" {
		return found
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == osName && envFuncs[sel.Sel.Name] {
			found = append(found, fmt.Sprintf("line %d calls os.%s", fset.Position(sel.Pos()).Line, sel.Sel.Name))
		}
		return true
	})
	return found
}
