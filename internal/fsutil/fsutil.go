// Package fsutil writes files so that a reader never sees a half-written
// certificate or key: single files are replaced by rename, and a set of
// files (cert, key, CA) is replaced as one generation through a ..data
// symlink swap, the layout Kubernetes uses for secret volumes.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrInsecurePermissions is returned (wrapped, in a *PermissionError) when
// a private key file can be read or written by group or others.
var ErrInsecurePermissions = errors.New("private key file is accessible by group or others")

// PermissionError is CheckKeyFile's refusal: the file and its mode, so a
// caller can word its own fix around them.
type PermissionError struct {
	Path string
	Mode os.FileMode // permission bits
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s has mode %04o: %v; fix it with: chmod 600 %s", e.Path, e.Mode, ErrInsecurePermissions, e.Path)
}

func (e *PermissionError) Unwrap() error { return ErrInsecurePermissions }

// ops are the file operations a write goes through. Tests replace them to
// inject failures (disk full, I/O errors) that permissions cannot produce
// when the tests run as root.
type ops struct {
	write func(f *os.File, data []byte) error
	sync  func(f *os.File) error
}

var realOps = ops{
	write: func(f *os.File, data []byte) error { _, err := f.Write(data); return err },
	sync:  func(f *os.File) error { return f.Sync() },
}

// WriteFile replaces path with data atomically: the data goes to a
// temporary file in the same directory, which is synced, given perm and
// renamed over path; then the directory is synced so the rename survives
// a crash. On any error path is left as it was.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return realOps.writeFile(path, data, perm)
}

func (o ops) writeFile(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	if err := o.fill(f, data, perm); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// fill writes data into the open file f, syncs it, sets perm and closes it.
func (o ops) fill(f *os.File, data []byte, perm os.FileMode) error {
	// chmod first so a key is never readable by others, not even briefly.
	err := f.Chmod(perm)
	if err == nil {
		err = o.write(f, data)
	}
	if err == nil {
		err = o.sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory so renames and new entries in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// CheckKeyFile refuses a private key file that group or others can read
// or write (a *PermissionError wrapping ErrInsecurePermissions), unless
// allowInsecure is set. It follows symlinks, so it checks the file a ..data
// layout points at. It is the one key-permission check: pki, ccpki and
// tlsconfig all call it.
func CheckKeyFile(path string, allowInsecure bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if fi.IsDir() {
		return fmt.Errorf("key file: %s is a directory, not a private key file (give the key file inside it, e.g. %s)", path, filepath.Join(path, "tls.key"))
	}
	if allowInsecure || fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return &PermissionError{Path: path, Mode: fi.Mode().Perm()}
}

// ReadFile reads a file, limiting it to max bytes so a wrong path (a
// device, a huge log) cannot exhaust memory.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("read %s: larger than %d bytes; is this the right file?", path, max)
	}
	return data, nil
}
