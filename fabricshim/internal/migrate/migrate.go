// Package migrate rewrites a chaincode module written for the v1 shim
// (github.com/hyperledger/fabric-chaincode-go/shim, peer.Response by
// value) onto ccserver's shim. It is the engine of cmd/ccmigrate: Plan
// works out every change without writing, Apply writes them, WriteDiff
// shows them.
package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Options configure a migration.
type Options struct {
	// CCServerVersion is the version of github.com/ccserver/ccserver the
	// module will require. Required.
	CCServerVersion string
	// GoCommand is the go command used to edit go.mod; default "go".
	GoCommand string
}

// Change is one file's old and new content.
type Change struct {
	Path     string // slash-separated, relative to the module root
	Old, New []byte
}

// Result is a migration worked out but not yet written.
type Result struct {
	Root    string
	Changes []Change // Go files in path order, then go.mod
	Notes   []Note   // what to look at by hand
	// Dropped and Added are the go.mod requirements removed and added
	// (path@version).
	Dropped, Added []string
}

// Plan reads the module at root and works out the rewrite of every Go
// file in it (not in testdata, vendor, hidden directories or nested
// modules) and of its go.mod. It writes nothing.
func Plan(ctx context.Context, root string, opts Options) (*Result, error) {
	if opts.CCServerVersion == "" {
		return nil, errors.New("migrate: no ccserver version to require")
	}
	if opts.GoCommand == "" {
		opts.GoCommand = "go"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return nil, fmt.Errorf("%s has no go.mod: %w", root, err)
	}
	res := &Result{Root: abs}
	files, err := goFiles(abs)
	if err != nil {
		return nil, err
	}
	var imports []string
	for _, rel := range files {
		src, err := os.ReadFile(filepath.Join(abs, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		fr, err := rewriteFile(rel, src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		imports = append(imports, fr.imports...)
		res.Notes = append(res.Notes, fr.notes...)
		if fr.out != nil && !bytes.Equal(fr.out, src) {
			res.Changes = append(res.Changes, Change{Path: rel, Old: src, New: fr.out})
		}
	}
	mod, err := planGoMod(ctx, abs, opts, imports, res)
	if err != nil {
		return nil, err
	}
	if mod != nil {
		res.Changes = append(res.Changes, *mod)
	}
	return res, nil
}

// goFiles lists the module's Go files, as the go command would see them
// for ./... (testdata, vendor, _ and . directories and nested modules
// left out).
func goFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root {
				if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// goModJSON is the part of go mod edit -json's output we read.
type goModJSON struct {
	Go      string
	Require []struct {
		Path    string
		Version string
	}
	Replace []struct {
		Old struct{ Path string }
	}
}

// planGoMod works out go.mod's new requirements from the imports the Go
// files have after the rewrite: the v1 modules go once nothing imports
// them, the modules the imports moved to come in with explicit versions,
// and the go directive rises to ccserver's.
func planGoMod(ctx context.Context, root string, opts Options, imports []string, res *Result) (*Change, error) {
	gomod := filepath.Join(root, "go.mod")
	old, err := os.ReadFile(gomod)
	if err != nil {
		return nil, err
	}
	out, err := goCmd(ctx, opts.GoCommand, root, "mod", "edit", "-json", gomod)
	if err != nil {
		return nil, err
	}
	var mf goModJSON
	if err := json.Unmarshal(out, &mf); err != nil {
		return nil, fmt.Errorf("go mod edit -json: %w", err)
	}
	imported := func(mod string) bool {
		return slices.ContainsFunc(imports, func(p string) bool { return inModule(p, mod) })
	}
	required := map[string]bool{}
	for _, r := range mf.Require {
		required[r.Path] = true
	}
	var edits []string
	for _, r := range mf.Require {
		if !slices.Contains(oldModules(), r.Path) {
			continue
		}
		if imported(r.Path) {
			res.Notes = append(res.Notes, Note{Pos: "go.mod", Msg: fmt.Sprintf("%s stays required: files above still import it", r.Path)})
			continue
		}
		edits = append(edits, "-droprequire="+r.Path)
		res.Dropped = append(res.Dropped, r.Path+"@"+r.Version)
		for _, rp := range mf.Replace {
			if rp.Old.Path == r.Path {
				edits = append(edits, "-dropreplace="+r.Path)
			}
		}
	}
	for _, m := range newModules(opts.CCServerVersion) {
		if imported(m[0]) && !required[m[0]] {
			edits = append(edits, "-require="+m[0]+"@"+m[1])
			res.Added = append(res.Added, m[0]+"@"+m[1])
		}
	}
	if mf.Go == "" || version.Compare("go"+mf.Go, "go"+MinGo) < 0 {
		edits = append(edits, "-go="+MinGo)
	}
	if len(edits) == 0 {
		return nil, nil
	}
	args := append(append([]string{"mod", "edit", "-print"}, edits...), gomod)
	updated, err := goCmd(ctx, opts.GoCommand, root, args...)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(updated, old) {
		return nil, nil
	}
	return &Change{Path: "go.mod", Old: old, New: updated}, nil
}

// goCmd runs the go command in dir and returns its standard output.
// GOFLAGS is cleared so that a -mod flag of the user's does not apply to
// go mod edit, which refuses it.
func goCmd(ctx context.Context, gocmd, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, gocmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", gocmd, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Apply writes every change, each file replaced whole (written beside it,
// then renamed over it) with its permissions kept.
func (r *Result) Apply() error {
	for _, c := range r.Changes {
		p := filepath.Join(r.Root, filepath.FromSlash(c.Path))
		if err := replaceFile(p, c.New); err != nil {
			return fmt.Errorf("write %s: %w", c.Path, err)
		}
	}
	return nil
}

func replaceFile(p string, data []byte) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".ccmigrate-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// WriteDiff writes a unified diff of every change.
func (r *Result) WriteDiff(w io.Writer) error {
	for _, c := range r.Changes {
		if _, err := io.WriteString(w, unifiedDiff("a/"+c.Path, "b/"+c.Path, c.Old, c.New)); err != nil {
			return err
		}
	}
	return nil
}
