package clientbuilder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeMetadata(t *testing.T, typ string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(map[string]string{"type": typ, "label": "cc_1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDetect(t *testing.T) {
	src := t.TempDir()
	if err := Detect(src, writeMetadata(t, PackageType)); err != nil {
		t.Fatalf("Detect(%s) = %v, want nil", PackageType, err)
	}
	for _, typ := range []string{"ccaas", "golang", "CCSERVER-CLIENT", ""} {
		err := Detect(src, writeMetadata(t, typ))
		if err == nil || !strings.Contains(err.Error(), "not ours") {
			t.Errorf("Detect(type %q) = %v, want a refusal", typ, err)
		}
	}

	if err := Detect(src, t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Detect without metadata.json = %v, want ErrNotExist", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "metadata.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Detect(src, bad); err == nil || !strings.Contains(err.Error(), "parse package metadata") {
		t.Errorf("Detect with bad JSON = %v, want a parse error", err)
	}
}

func TestBuild(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	prog := []byte("#!/bin/sh\nexit 0\n")
	// 0700, as if the peer unpacked it under a tight umask: the output
	// must still be 0755.
	if err := os.WriteFile(filepath.Join(src, ProgramName), prog, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Build(src, t.TempDir(), out); err != nil {
		t.Fatalf("Build: %v", err)
	}
	dst := filepath.Join(out, ProgramName)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, prog) {
		t.Fatalf("built program = %q, %v; want %q", got, err, prog)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o755 {
		t.Errorf("built program mode %v, want 0755", fi.Mode().Perm())
	}

	err = Build(t.TempDir(), t.TempDir(), t.TempDir())
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), `named "chaincode"`) {
		t.Errorf("Build without a program = %v, want ErrNotExist naming the file", err)
	}
	dirSrc := t.TempDir()
	if err := os.Mkdir(filepath.Join(dirSrc, ProgramName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Build(dirSrc, t.TempDir(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Build with a directory as program = %v, want a refusal", err)
	}
}

// readTarGz returns the entries of a tar.gz, failing on anything the peer
// would refuse (non-regular entries).
func readTarGz(t *testing.T, b []byte) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hs []*tar.Header
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs, files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			t.Fatalf("entry %s has type %v, the peer accepts only regular files", h.Name, h.Typeflag)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
		files[h.Name] = data
	}
}

func TestWritePackage(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	progBytes := []byte("#!/bin/sh\necho hello\n")
	if err := os.WriteFile(prog, progBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	p1, p2 := filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "b.tar.gz")
	id1, err := WritePackage(p1, "mycc_1.0", prog)
	if err != nil {
		t.Fatal(err)
	}
	// A different mtime on the program must not change the package.
	if err := os.Chtimes(prog, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	id2, err := WritePackage(p2, "mycc_1.0", prog)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if id1 != id2 || !bytes.Equal(b1, b2) {
		t.Fatalf("not reproducible: %s vs %s", id1, id2)
	}
	if !regexp.MustCompile(`^mycc_1\.0:[0-9a-f]{64}$`).MatchString(id1) {
		t.Fatalf("package id %q is not LABEL:hex(sha256)", id1)
	}
	sum := sha256.Sum256(b1)
	if want := "mycc_1.0:" + hex.EncodeToString(sum[:]); id1 != want {
		t.Fatalf("package id %s, want %s", id1, want)
	}

	hs, files := readTarGz(t, b1)
	if len(hs) != 2 || hs[0].Name != "metadata.json" || hs[1].Name != "code.tar.gz" {
		t.Fatalf("package entries %v, want metadata.json, code.tar.gz", hs)
	}
	var md map[string]any
	if err := json.Unmarshal(files["metadata.json"], &md); err != nil {
		t.Fatal(err)
	}
	if len(md) != 2 || md["type"] != PackageType || md["label"] != "mycc_1.0" {
		t.Fatalf("metadata.json = %s", files["metadata.json"])
	}
	chs, code := readTarGz(t, files["code.tar.gz"])
	if len(chs) != 1 || chs[0].Name != ProgramName || chs[0].Mode != 0o755 || !bytes.Equal(code[ProgramName], progBytes) {
		t.Fatalf("code.tar.gz entries %+v", chs)
	}

	id3, err := WritePackage(filepath.Join(dir, "c.tar.gz"), "other", prog)
	if err != nil || strings.TrimPrefix(id3, "other:") == strings.TrimPrefix(id1, "mycc_1.0:") {
		t.Fatalf("another label gave %s, %v: the hash must cover the metadata", id3, err)
	}

	for _, bad := range []string{"", "-x", "a:b", "a/b", "a b"} {
		if _, err := WritePackage(filepath.Join(dir, "bad.tar.gz"), bad, prog); err == nil {
			t.Errorf("WritePackage(label %q) succeeded; the peer would refuse it", bad)
		}
	}
	if _, err := WritePackage(filepath.Join(dir, "x.tar.gz"), "x", filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WritePackage without a program = %v, want ErrNotExist", err)
	}
}

// TestWritePackagePeerAgrees asks a real peer CLI for the package id when
// FABRIC_BIN names a Fabric release's bin directory.
func TestWritePackagePeerAgrees(t *testing.T) {
	bin := os.Getenv("FABRIC_BIN")
	if bin == "" {
		t.Skip("FABRIC_BIN not set: no peer CLI to compare package ids with")
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "cc.tar.gz")
	id, err := WritePackage(pkg, "agree_1", prog)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "peer"), "lifecycle", "chaincode", "calculatepackageid", pkg)
	cmd.Env = append(os.Environ(), "FABRIC_CFG_PATH="+filepath.Join(filepath.Dir(bin), "config"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer calculatepackageid: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != id {
		t.Fatalf("peer says %s, WritePackage said %s", got, id)
	}
}

func TestInstall(t *testing.T) {
	built := filepath.Join(t.TempDir(), "clientbuilder")
	if err := os.WriteFile(built, []byte("binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for range 2 { // installing over an earlier layout replaces it
		if err := Install(dir, built); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"detect", "build", "run"} {
		p := filepath.Join(dir, "bin", name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "binary" {
			t.Fatalf("%s = %q, %v", p, b, err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm()&0o111 != 0o111 {
			t.Errorf("%s mode %v, want executable by all (the peer may run as another user)", p, fi.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "release")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bin/release exists: %v", err)
	}
	if fi, _ := os.Stat(built); fi.Mode().Perm() != 0o700 {
		t.Errorf("Install changed the mode of the built binary to %v", fi.Mode())
	}
	if err := Install(t.TempDir(), filepath.Join(t.TempDir(), "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Install of a missing binary = %v", err)
	}
}

func TestMain_Dispatch(t *testing.T) {
	md := writeMetadata(t, PackageType)
	var stderr bytes.Buffer
	if rc := Main([]string{"/x/bin/detect", t.TempDir(), md}, nil, &stderr); rc != 0 {
		t.Fatalf("detect: rc %d, stderr %s", rc, &stderr)
	}
	if rc := Main([]string{"clientbuilder", "detect", t.TempDir(), md}, nil, &stderr); rc != 0 {
		t.Fatalf("clientbuilder detect: rc %d, stderr %s", rc, &stderr)
	}
	stderr.Reset()
	if rc := Main([]string{"/x/bin/detect", t.TempDir(), writeMetadata(t, "ccaas")}, nil, &stderr); rc != 1 || !strings.Contains(stderr.String(), `clientbuilder detect: package type "ccaas"`) {
		t.Fatalf("detect ccaas: rc %d, stderr %q", rc, &stderr)
	}
	stderr.Reset()
	if rc := Main([]string{"/x/bin/build", "only-one"}, nil, &stderr); rc != 1 || !strings.Contains(stderr.String(), "expected 3 directory arguments, got 1") {
		t.Fatalf("build with one argument: rc %d, stderr %q", rc, &stderr)
	}
	stderr.Reset()
	if rc := Main([]string{"/x/bin/release", "a", "b"}, nil, &stderr); rc != 2 || stderr.Len() == 0 {
		t.Fatalf("unknown name: rc %d, stderr %q", rc, &stderr)
	}
}
