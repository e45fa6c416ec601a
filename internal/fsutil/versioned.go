package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DataLink is the symlink that names the current generation of a
// versioned directory.
const DataLink = "..data"

// File is one entry of a generation written by WriteVersioned.
type File struct {
	Name string // base name, e.g. "tls.crt"
	Data []byte
	Perm os.FileMode
}

// WriteVersioned replaces the files in dir as one generation, the way the
// kubelet updates a secret volume: the files are written and synced into a
// new hidden directory "..<timestamp>", a temporary symlink to it is
// renamed over "..data" (the single atomic step), each visible name is a
// symlink "<name> -> ..data/<name>", and the previous generation is then
// removed. A reader that opens tls.crt and tls.key after resolving ..data
// always sees a matching pair; on any error before the swap the old
// generation stays in place untouched.
func WriteVersioned(dir string, files []File) error {
	return realOps.writeVersioned(dir, files, time.Now())
}

func (o ops) writeVersioned(dir string, files []File, now time.Time) error {
	for _, f := range files {
		if f.Name == "" || strings.ContainsRune(f.Name, filepath.Separator) || strings.HasPrefix(f.Name, "..") {
			return fmt.Errorf("write %s: invalid file name %q", dir, f.Name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	gen, err := os.MkdirTemp(dir, ".."+now.UTC().Format("2006_01_02_15_04_05")+".")
	if err != nil {
		return fmt.Errorf("write %s: new generation: %w", dir, err)
	}
	if err := os.Chmod(gen, 0o755); err != nil {
		_ = os.RemoveAll(gen)
		return fmt.Errorf("write %s: %w", gen, err)
	}
	for _, f := range files {
		if err := o.writeNew(filepath.Join(gen, f.Name), f.Data, f.Perm); err != nil {
			_ = os.RemoveAll(gen)
			return err
		}
	}
	if err := SyncDir(gen); err != nil {
		_ = os.RemoveAll(gen)
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, DataLink))
	if err := replaceSymlink(dir, DataLink, filepath.Base(gen)); err != nil {
		_ = os.RemoveAll(gen)
		return err
	}
	for _, f := range files {
		target := filepath.Join(DataLink, f.Name)
		if cur, err := os.Readlink(filepath.Join(dir, f.Name)); err == nil && cur == target {
			continue
		}
		if err := replaceSymlink(dir, f.Name, target); err != nil {
			return err
		}
	}
	if err := SyncDir(dir); err != nil {
		return err
	}
	if old != "" && strings.HasPrefix(old, "..") && !strings.ContainsRune(old, filepath.Separator) && old != filepath.Base(gen) {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return fmt.Errorf("write %s: remove previous generation: %w", dir, err)
		}
	}
	return nil
}

// writeNew creates a file that must not exist yet, writes and syncs it.
func (o ops) writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := o.fill(f, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// replaceSymlink points dir/name at target by renaming a fresh symlink
// over it, so the name never disappears.
func replaceSymlink(dir, name, target string) error {
	tmp := filepath.Join(dir, name+"_tmp")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", dir, err)
	}
	return nil
}

// CurrentGeneration returns the directory ..data points at, so a reader
// can load several files from one generation.
func CurrentGeneration(dir string) (string, error) {
	target, err := os.Readlink(filepath.Join(dir, DataLink))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, target), nil
}
