package migrate

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// devVersion is what the tests require of ccserver; a replace points it
// at this repository.
const devVersion = "v0.0.0-00010101000000-000000000000"

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// goIn runs the go command in dir and fails the test if it fails.
func goIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out.String())
	}
	return out.String()
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCorpus migrates each v1 chaincode of testdata/corpus in a copy and
// checks that the result builds, vets clean and passes its own tests, on
// ccserver's shim, with no v1 module left in its build.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests three modules")
	}
	core, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		wantFiles   []string // the Go files rewritten
		wantDropped []string
		wantAdded   []string
		wantNotes   []string
	}{
		{
			name:        "counter",
			wantFiles:   []string{"counter.go", "counter_test.go"},
			wantDropped: []string{"github.com/hyperledger/fabric-chaincode-go@", "github.com/hyperledger/fabric-protos-go@"},
			wantAdded:   []string{CCServerModule + "@" + devVersion, protosModule + "@" + protosVersion},
			// The test table's field; every row sets it.
			wantNotes: []string{"counter_test.go:38:3: field want is now a *pb.Response"},
		},
		{
			name:        "escrow",
			wantFiles:   []string{"escrow.go", "escrow_test.go"},
			wantDropped: []string{"github.com/hyperledger/fabric-chaincode-go@", "github.com/hyperledger/fabric-protos-go@"},
			wantAdded:   []string{CCServerModule + "@" + devVersion, pkgModule + "@" + pkgVersion, protosModule + "@" + protosVersion},
		},
		{
			name:        "legacy",
			wantFiles:   []string{"journal.go", "journal_test.go"},
			wantDropped: []string{"github.com/hyperledger/fabric@"},
			wantAdded:   []string{CCServerModule + "@" + devVersion, protosModule + "@" + protosVersion, protobufModule + "@" + protobufVersion},
			wantNotes: []string{
				"journal.go:22:2: field lastRelay is now a *sc.Response and nil until set",
				"named result res starts as a fresh response",
				"journal_test.go:29:2: field answer is now a *sc.Response",
				"journal_test.go:52:3: field answer is now a *sc.Response",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), tc.name)
			copyTree(t, filepath.Join("testdata", "corpus", tc.name), dir)
			ctx := context.Background()

			res, err := Plan(ctx, dir, Options{CCServerVersion: devVersion})
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, c := range res.Changes {
				files = append(files, c.Path)
			}
			if want := append(slices.Clone(tc.wantFiles), "go.mod"); !slices.Equal(files, want) {
				t.Errorf("changes %q, want %q", files, want)
			}
			for _, w := range tc.wantDropped {
				if !slices.ContainsFunc(res.Dropped, func(d string) bool { return strings.HasPrefix(d, w) }) {
					t.Errorf("dropped %q, want %s…", res.Dropped, w)
				}
			}
			if !slices.Equal(res.Added, tc.wantAdded) {
				t.Errorf("added %q, want %q", res.Added, tc.wantAdded)
			}
			var notes []string
			for _, n := range res.Notes {
				notes = append(notes, n.String())
			}
			for _, w := range tc.wantNotes {
				if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, w) }) {
					t.Errorf("no note %q in %q", w, notes)
				}
			}
			if len(notes) != len(tc.wantNotes) {
				t.Errorf("notes %q, want %d", notes, len(tc.wantNotes))
			}
			if err := res.Apply(); err != nil {
				t.Fatal(err)
			}
			mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
			if !strings.Contains(string(mod), "\ngo "+MinGo+"\n") || strings.Contains(string(mod), "replace") {
				t.Errorf("go.mod after the migration:\n%s", mod)
			}

			// What the user runs next, with ccserver taken from here.
			goIn(t, dir, "mod", "edit", "-replace", CCServerModule+"="+core)
			goIn(t, dir, "mod", "tidy")
			goIn(t, dir, "build", "./...")
			goIn(t, dir, "vet", "./...")
			goIn(t, dir, "test", "-count=1", "./...")
			deps := goIn(t, dir, "list", "-deps", "-test", "./...")
			for _, old := range []string{"github.com/hyperledger/fabric-protos-go/", "github.com/hyperledger/fabric-chaincode-go/shim", "github.com/hyperledger/fabric/"} {
				if strings.Contains(deps, old) {
					t.Errorf("the migrated module still builds with %s", old)
				}
			}
			if !strings.Contains(deps, CCServerModule+"/shim\n") {
				t.Error("the migrated module does not build with ccserver's shim")
			}

			// Once migrated, there is nothing left to do.
			again, err := Plan(ctx, dir, Options{CCServerVersion: devVersion})
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Changes) != 0 {
				var b strings.Builder
				_ = again.WriteDiff(&b)
				t.Errorf("a second run would change:\n%s", b.String())
			}
		})
	}
}

// TestPlanWritesNothing: Plan and WriteDiff leave the module as it was.
func TestPlanWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "counter")
	copyTree(t, filepath.Join("testdata", "corpus", "counter"), dir)
	before := snapshot(t, dir)
	res, err := Plan(context.Background(), dir, Options{CCServerVersion: devVersion})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.WriteDiff(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--- a/counter.go\n+++ b/counter.go\n",
		"-func (c *Counter) Invoke(stub shim.ChaincodeStubInterface) pb.Response {\n+func (c *Counter) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {\n",
		"--- a/go.mod\n+++ b/go.mod\n",
		"-\tgithub.com/hyperledger/fabric-chaincode-go v0.0.0-20230731094759-d626e9ab09b9\n",
		"+go " + MinGo + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("diff lacks %q:\n%s", want, b.String())
		}
	}
	if after := snapshot(t, dir); !mapsEqual(before, after) {
		t.Error("Plan or WriteDiff changed the module")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(dir string) error
		opts    Options
		wantErr string
	}{
		{"no go.mod", func(string) error { return nil }, Options{CCServerVersion: devVersion}, "has no go.mod"},
		{"no version", func(string) error { return nil }, Options{}, "no ccserver version"},
		{"a file that does not parse", func(dir string) error {
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "bad.go"), []byte("package x\nfunc {"), 0o644)
		}, Options{CCServerVersion: devVersion}, "bad.go"},
		{"a go command that fails", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
		}, Options{CCServerVersion: devVersion, GoCommand: "false"}, "false mod edit -json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Plan(context.Background(), dir, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// Directories the go command ignores are ignored here too.
func TestGoFilesSkips(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.go", "sub/b.go", "testdata/c.go", "vendor/d.go", ".hidden/e.go", "_old/f.go", "nested/g.go", "nested/go.mod", "README.md"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := goFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.go", "sub/b.go"}; !slices.Equal(got, want) {
		t.Errorf("goFiles = %q, want %q", got, want)
	}
}
