package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func TestWriteFileReplacesAndSetsMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tls.key")
	for i, perm := range []os.FileMode{0o644, 0o600} {
		want := fmt.Sprintf("content %d", i)
		if err := WriteFile(p, []byte(want), perm); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, p); got != want {
			t.Fatalf("content = %q, want %q", got, want)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != perm {
			t.Fatalf("mode = %v, want %v", fi.Mode().Perm(), perm)
		}
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Fatalf("left temporary files behind: %v", names)
	}
}

// failing returns ops whose write or sync fails, as a full disk would.
func failing(failWrite, failSync bool) ops {
	o := realOps
	if failWrite {
		o.write = func(f *os.File, data []byte) error {
			_, _ = f.Write(data[:len(data)/2])
			return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
	}
	if failSync {
		o.sync = func(*os.File) error { return &os.PathError{Op: "fsync", Path: "x", Err: syscall.EIO} }
	}
	return o
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	for _, tc := range []struct {
		name              string
		failWrite, failSy bool
		want              error
	}{
		{"disk full", true, false, syscall.ENOSPC},
		{"fsync error", false, true, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "tls.crt")
			if err := WriteFile(p, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := failing(tc.failWrite, tc.failSy).writeFile(p, []byte("new content"), 0o644)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			if got := mustRead(t, p); got != "old" {
				t.Fatalf("old file changed to %q", got)
			}
			if names := entries(t, dir); len(names) != 1 {
				t.Fatalf("left temporary files behind: %v", names)
			}
		})
	}
}

func TestWriteFileReadOnlyDirKeepsOld(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; TestWriteFileFailureKeepsOld injects the failure instead")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "tls.crt")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if err := WriteFile(p, []byte("new"), 0o644); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v, want permission denied", err)
	}
	if got := mustRead(t, p); got != "old" {
		t.Fatalf("old file changed to %q", got)
	}
}

func pair(gen int) []File {
	return []File{
		{Name: "tls.crt", Data: []byte(fmt.Sprintf("cert %d", gen)), Perm: 0o644},
		{Name: "tls.key", Data: []byte(fmt.Sprintf("key %d", gen)), Perm: 0o600},
		{Name: "ca.crt", Data: []byte(fmt.Sprintf("ca %d", gen)), Perm: 0o644},
	}
}

func generations(t *testing.T, dir string) []string {
	var gens []string
	for _, n := range entries(t, dir) {
		if strings.HasPrefix(n, "..") && n != DataLink {
			gens = append(gens, n)
		}
	}
	return gens
}

func TestWriteVersionedLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "server")
	for gen := 1; gen <= 3; gen++ {
		if err := WriteVersioned(dir, pair(gen)); err != nil {
			t.Fatal(err)
		}
		for _, f := range pair(gen) {
			p := filepath.Join(dir, f.Name)
			if got := mustRead(t, p); got != string(f.Data) {
				t.Fatalf("gen %d: %s = %q, want %q", gen, f.Name, got, f.Data)
			}
			target, err := os.Readlink(p)
			if err != nil || target != filepath.Join(DataLink, f.Name) {
				t.Fatalf("%s is not a symlink into ..data: %q, %v", f.Name, target, err)
			}
			fi, _ := os.Stat(p)
			if fi.Mode().Perm() != f.Perm {
				t.Fatalf("%s mode %v, want %v", f.Name, fi.Mode().Perm(), f.Perm)
			}
		}
		if gens := generations(t, dir); len(gens) != 1 {
			t.Fatalf("gen %d: want exactly one generation directory, have %v", gen, gens)
		}
	}
	cur, err := CurrentGeneration(dir)
	if err != nil || mustRead(t, filepath.Join(cur, "tls.key")) != "key 3" {
		t.Fatalf("CurrentGeneration = %q, %v", cur, err)
	}
}

func TestWriteVersionedReplacesFlatFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range pair(0) {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, f.Perm); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteVersioned(dir, pair(1)); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(dir, "tls.crt")); got != "cert 1" {
		t.Fatalf("tls.crt = %q", got)
	}
	if _, err := os.Readlink(filepath.Join(dir, "tls.crt")); err != nil {
		t.Fatalf("tls.crt not turned into a symlink: %v", err)
	}
}

func TestWriteVersionedFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	if err := WriteVersioned(dir, pair(1)); err != nil {
		t.Fatal(err)
	}
	before := generations(t, dir)
	for _, tc := range []struct {
		name string
		o    ops
	}{{"disk full", failing(true, false)}, {"fsync error", failing(false, true)}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.o.writeVersioned(dir, pair(2), time.Now()); err == nil {
				t.Fatal("write succeeded despite the injected failure")
			}
			for _, f := range pair(1) {
				if got := mustRead(t, filepath.Join(dir, f.Name)); got != string(f.Data) {
					t.Fatalf("%s changed to %q", f.Name, got)
				}
			}
			if after := generations(t, dir); len(after) != 1 || after[0] != before[0] {
				t.Fatalf("generations = %v, want %v", after, before)
			}
		})
	}
}

func TestWriteVersionedRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "a/b", "..data", "..x"} {
		if err := WriteVersioned(t.TempDir(), []File{{Name: name, Perm: 0o600}}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

// A reader resolving ..data once must always see cert and key of the same
// generation while a writer swaps generations underneath.
func TestWriteVersionedReadersSeeConsistentPairs(t *testing.T) {
	dir := t.TempDir()
	if err := WriteVersioned(dir, pair(0)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mismatch error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			gen, err := CurrentGeneration(dir)
			if err != nil {
				mismatch = err
				return
			}
			c, err1 := os.ReadFile(filepath.Join(gen, "tls.crt"))
			k, err2 := os.ReadFile(filepath.Join(gen, "tls.key"))
			if err1 != nil || err2 != nil {
				continue // generation removed after we resolved it; re-resolve
			}
			if !bytes.Equal(bytes.TrimPrefix(c, []byte("cert ")), bytes.TrimPrefix(k, []byte("key "))) {
				mismatch = fmt.Errorf("mixed generations: %q / %q", c, k)
				return
			}
		}
	}()
	for gen := 1; gen <= 50; gen++ {
		if err := WriteVersioned(dir, pair(gen)); err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if mismatch != nil {
		t.Fatal(mismatch)
	}
}

func TestCheckKeyFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		perm     os.FileMode
		insecure bool
		wantErr  bool
	}{
		{0o600, false, false},
		{0o400, false, false},
		{0o640, false, true},
		{0o604, false, true},
		{0o644, true, false},
	} {
		p := filepath.Join(dir, fmt.Sprintf("k%o-%v", tc.perm, tc.insecure))
		if err := os.WriteFile(p, []byte("k"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.perm); err != nil {
			t.Fatal(err)
		}
		err := CheckKeyFile(p, tc.insecure)
		if (err != nil) != tc.wantErr {
			t.Errorf("perm %o insecure %v: err = %v", tc.perm, tc.insecure, err)
		}
		if tc.wantErr && (!errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), "chmod 600 "+p)) {
			t.Errorf("error %q does not name the problem and fix", err)
		}
		var pe *PermissionError
		if tc.wantErr && (!errors.As(err, &pe) || pe.Path != p || pe.Mode != tc.perm) {
			t.Errorf("error %v: want a *PermissionError for %s, mode %o", err, p, tc.perm)
		}
	}
	if err := CheckKeyFile(filepath.Join(dir, "missing"), false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadFileLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p, 99); err == nil {
		t.Fatal("oversized file accepted")
	}
	if b, err := ReadFile(p, 100); err != nil || len(b) != 100 {
		t.Fatalf("ReadFile = %d, %v", len(b), err)
	}
}
