package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// isInternal reports an import path that code outside its tree cannot
// import: one with an element named "internal".
func isInternal(path string) bool {
	return slices.Contains(strings.Split(path, "/"), "internal")
}

// TestPublicAPINamesNoInternalType fails when an exported name of a
// public package of the module (function, method, variable, constant,
// type, struct field, interface method, alias) mentions a type of an
// internal package: code outside the module could see the name in go doc
// but not write it. It reads the compiler's export data of every public
// package, so inferred types (var X = internal.New()) count too.
func TestPublicAPINamesNoInternalType(t *testing.T) {
	exports, public := exportData(t)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	for _, path := range public {
		pkg, err := imp.Import(path)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		for _, v := range internalInAPI(pkg) {
			t.Errorf("%s: exported %s", rel(path), v)
		}
	}
}

// exportData compiles the module's packages (go list -export, cached) and
// returns export files by import path and the public packages.
func exportData(t *testing.T) (map[string]string, []string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}|{{.Export}}|{{.Name}}|{{.Module}}", mod+"/...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list -export: %v\n%s", err, errb.String())
	}
	exports := map[string]string{}
	var public []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", 4)
		if len(f) != 4 {
			continue
		}
		path, export, name, module := f[0], f[1], f[2], f[3]
		if export != "" {
			exports[path] = export
		}
		// A directory of tests only (deploy/) has no export data and no API.
		if module == mod && name != "main" && !isInternal(path) && export != "" {
			public = append(public, path)
		}
	}
	if len(public) == 0 {
		t.Fatal("no public packages found")
	}
	return exports, public
}

// internalInAPI lists "Name: names internal/pkg.Type" for each exported
// object of pkg whose API mentions an internal type.
func internalInAPI(pkg *types.Package) []string {
	var found []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		w := &apiWalker{report: func(where string, named *types.TypeName) {
			found = append(found, fmt.Sprintf("%s names %s.%s", where, rel(named.Pkg().Path()), named.Name()))
		}}
		switch o := obj.(type) {
		case *types.TypeName:
			if o.IsAlias() {
				w.typ(name, o.Type())
				continue
			}
			named, ok := o.Type().(*types.Named)
			if !ok {
				continue
			}
			for i := range named.TypeParams().Len() {
				w.typ(name, named.TypeParams().At(i).Constraint())
			}
			w.typ(name, named.Underlying())
			for i := range named.NumMethods() {
				if m := named.Method(i); m.Exported() {
					w.typ(name+"."+m.Name(), m.Type())
				}
			}
		default:
			w.typ(name, obj.Type())
		}
	}
	return found
}

// apiWalker visits the types an exported declaration shows: it stops at
// named types (their own declarations are visited if they are public).
type apiWalker struct {
	report func(where string, named *types.TypeName)
}

func (w *apiWalker) typ(where string, t types.Type) {
	switch t := t.(type) {
	case *types.Alias:
		w.name(where, t.Obj())
		w.typ(where, types.Unalias(t))
	case *types.Named:
		w.name(where, t.Obj())
		for i := range t.TypeArgs().Len() {
			w.typ(where, t.TypeArgs().At(i))
		}
	case *types.Pointer:
		w.typ(where, t.Elem())
	case *types.Slice:
		w.typ(where, t.Elem())
	case *types.Array:
		w.typ(where, t.Elem())
	case *types.Chan:
		w.typ(where, t.Elem())
	case *types.Map:
		w.typ(where, t.Key())
		w.typ(where, t.Elem())
	case *types.Signature:
		for i := range t.TypeParams().Len() {
			w.typ(where, t.TypeParams().At(i).Constraint())
		}
		w.typ(where, t.Params())
		w.typ(where, t.Results())
	case *types.Tuple:
		for i := range t.Len() {
			w.typ(where, t.At(i).Type())
		}
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() {
				w.typ(where+"."+f.Name(), f.Type())
			}
		}
	case *types.Interface:
		for i := range t.NumExplicitMethods() {
			if m := t.ExplicitMethod(i); m.Exported() {
				w.typ(where+"."+m.Name(), m.Type())
			}
		}
		for i := range t.NumEmbeddeds() {
			w.typ(where, t.EmbeddedType(i))
		}
	case *types.Union:
		for i := range t.Len() {
			w.typ(where, t.Term(i).Type())
		}
	case *types.TypeParam:
		w.typ(where, t.Constraint())
	}
}

func (w *apiWalker) name(where string, obj *types.TypeName) {
	if obj.Pkg() != nil && isInternal(obj.Pkg().Path()) {
		w.report(where, obj)
	}
}

// TestInternalInAPIFinds checks the walker on a made-up module: every
// way an exported declaration can show an internal type is found, and
// what go doc does not show is not.
func TestInternalInAPIFinds(t *testing.T) {
	check := func(path, src string, imp types.Importer) *types.Package {
		t.Helper()
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		pkg, err := (&types.Config{Importer: imp}).Check(path, fset, []*ast.File{f}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	in := check("example.com/m/internal/in", `package in
type T int
type G[P any] struct{ V P }
func New() T { return 0 }`, nil)
	pub := check("example.com/m/pub", `package pub
import "example.com/m/internal/in"
func Param(in.T) {}
func Result() *in.T { return nil }
func Variadic(...in.T) {}
func Generic[P interface{ ~string | in.T }]() {}
type S struct {
	Field map[string][]in.T
	in.G[int]
	hidden in.T
}
type U struct{ V in.G[string] }
func (S) Method(chan in.T) {}
func (s *S) PtrMethod() func() in.T { return nil }
type A = in.T
type I interface{ M() in.T }
type F func(in.T)
var Inferred = in.New()
const C in.T = 1
type Inst = in.G[int]
type Arg struct{ V []struct{ W in.T } }

func unexported(in.T) {}
type hidden struct{ F in.T }
func (hidden) M(in.T) {}
type Clean struct{ x in.T }
func (Clean) m(in.T) {}
var _ = in.New()
`, importerFunc(func(string) (*types.Package, error) { return in, nil }))
	got := internalInAPI(pub)
	want := []string{
		"A names example.com/m/internal/in.T",
		"Arg.V.W names example.com/m/internal/in.T",
		"C names example.com/m/internal/in.T",
		"F names example.com/m/internal/in.T",
		"Generic names example.com/m/internal/in.T",
		"I.M names example.com/m/internal/in.T",
		"Inferred names example.com/m/internal/in.T",
		"Inst names example.com/m/internal/in.G",
		"Param names example.com/m/internal/in.T",
		"Result names example.com/m/internal/in.T",
		"S.Field names example.com/m/internal/in.T",
		"S.G names example.com/m/internal/in.G",
		"S.Method names example.com/m/internal/in.T",
		"S.PtrMethod names example.com/m/internal/in.T",
		"U.V names example.com/m/internal/in.G",
		"Variadic names example.com/m/internal/in.T",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("found\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

type importerFunc func(string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
