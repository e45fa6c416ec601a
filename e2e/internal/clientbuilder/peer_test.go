package clientbuilder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// buildCommand builds cmd/clientbuilder and installs it as a builder
// directory, as the network harness does.
func buildCommand(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/clientbuilder with")
	}
	built := filepath.Join(t.TempDir(), "clientbuilder")
	cmd := exec.Command(goBin, "build", "-o", built, "github.com/ccserver/ccserver/e2e/cmd/clientbuilder")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if err := Install(dir, built); err != nil {
		t.Fatal(err)
	}
	return dir
}

// unpackLikeThePeer splits a package as the peer does: metadata.json
// into metadataDir, code.tar.gz unpacked into sourceDir with each entry's
// mode from its header (externalbuilder.Untar).
func unpackLikeThePeer(t *testing.T, pkg, sourceDir, metadataDir string) {
	t.Helper()
	b, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	_, files := readTarGz(t, b)
	if err := os.WriteFile(filepath.Join(metadataDir, "metadata.json"), files["metadata.json"], 0o700); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(files["code.tar.gz"]))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(sourceDir, h.Name), os.O_CREATE|os.O_RDWR, os.FileMode(h.Mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// peerCommand runs a builder step with the pruned environment the peer
// gives it (DefaultPropagateEnvironment plus propagateEnvironment, here
// CCTEST_OUT) and returns its exit code and stderr.
func peerCommand(t *testing.T, env []string, name string, args ...string) (*exec.Cmd, int, string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", name, err)
	}
	return cmd, cmd.ProcessState.ExitCode(), stderr.String()
}

// TestAsThePeerDoes drives the built binary through detect, build and run
// the way the peer's externalbuilder package calls them, with a chaincode
// that records what it was started with.
func TestAsThePeerDoes(t *testing.T) {
	builder := buildCommand(t)
	bin := func(name string) string { return filepath.Join(builder, "bin", name) }
	out := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir(), "CCTEST_OUT=" + out}

	work := t.TempDir()
	prog := filepath.Join(work, "prog")
	script := `#!/bin/sh
echo $$ > "$CCTEST_OUT/pid"
printf '%s\n' "$0" "$@" > "$CCTEST_OUT/args"
env > "$CCTEST_OUT/env"
echo "chaincode says hello" >&2
exit 7
`
	if err := os.WriteFile(prog, []byte(script), 0o600); err != nil { // WritePackage makes it 0755
		t.Fatal(err)
	}
	pkg := filepath.Join(work, "cc.tar.gz")
	ccid, err := WritePackage(pkg, "e2etest_1", prog)
	if err != nil {
		t.Fatal(err)
	}

	src, meta, bld := t.TempDir(), t.TempDir(), t.TempDir()
	unpackLikeThePeer(t, pkg, src, meta)

	if _, rc, stderr := peerCommand(t, env, bin("detect"), src, meta); rc != 0 {
		t.Fatalf("detect refused our package: rc %d, stderr %s", rc, stderr)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "metadata.json"), []byte(`{"type":"ccaas","label":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, rc, stderr := peerCommand(t, env, bin("detect"), src, other); rc == 0 || !strings.Contains(stderr, `package type "ccaas"`) {
		t.Fatalf("detect of a ccaas package: rc %d, stderr %q; want a refusal", rc, stderr)
	}

	if _, rc, stderr := peerCommand(t, env, bin("build"), t.TempDir(), meta, t.TempDir()); rc == 0 || !strings.Contains(stderr, "the package has no program") {
		t.Fatalf("build without a program: rc %d, stderr %q", rc, stderr)
	}
	if _, rc, stderr := peerCommand(t, env, bin("build"), src, meta, bld); rc != 0 {
		t.Fatalf("build: rc %d, stderr %s", rc, stderr)
	}

	cert, key, root := peerTLS(t)
	runMeta := writeRunConfig(t, runConfig{CCID: ccid, PeerAddress: "127.0.0.1:7052", ClientCert: cert, ClientKey: key, RootCert: root, MSPID: "Org1MSP"})
	cmd, rc, stderr := peerCommand(t, env, bin("run"), bld, runMeta)
	if rc != 7 {
		t.Fatalf("run: rc %d, want the chaincode's 7; stderr %s", rc, stderr)
	}
	if !strings.Contains(stderr, "chaincode says hello") {
		t.Errorf("the chaincode's stderr did not reach the peer: %q", stderr)
	}
	pid, err := os.ReadFile(filepath.Join(out, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(pid)); got != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("the chaincode ran as pid %s, run as %d: run must exec it, not start a child", got, cmd.Process.Pid)
	}
	args, err := os.ReadFile(filepath.Join(out, "args"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(bld, ProgramName) + "\n-peer.address=127.0.0.1:7052\n"; string(args) != want {
		t.Errorf("argv = %q, want %q", args, want)
	}

	envOut, err := os.ReadFile(filepath.Join(out, "env"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(envOut)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	tlsDir := filepath.Join(runMeta, TLSDir)
	for k, v := range map[string]string{
		"CCTEST_OUT":                  out,
		"CORE_CHAINCODE_ID_NAME":      ccid,
		"CORE_PEER_ADDRESS":           "127.0.0.1:7052",
		"CORE_PEER_LOCALMSPID":        "Org1MSP",
		"CORE_PEER_TLS_ENABLED":       "true",
		"CORE_TLS_CLIENT_CERT_FILE":   filepath.Join(tlsDir, "client.crt"),
		"CORE_TLS_CLIENT_KEY_FILE":    filepath.Join(tlsDir, "client.key"),
		"CORE_PEER_TLS_ROOTCERT_FILE": filepath.Join(tlsDir, "root.crt"),
	} {
		if got[k] != v {
			t.Errorf("chaincode env %s = %q, want %q", k, got[k], v)
		}
	}
	b, err := os.ReadFile(got["CORE_TLS_CLIENT_KEY_FILE"])
	if err != nil || string(b) != key {
		t.Errorf("client.key = %q, %v; want the peer's PEM unchanged", b, err)
	}
	if fi, err := os.Stat(got["CORE_TLS_CLIENT_KEY_FILE"]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("client.key: %v, %v; want mode 0600", fi, err)
	}

	// A run whose chaincode.json is unusable fails with a message the
	// peer logs.
	if _, rc, stderr := peerCommand(t, env, bin("run"), bld, t.TempDir()); rc == 0 || !strings.Contains(stderr, "clientbuilder run: read the peer's run metadata") {
		t.Fatalf("run without chaincode.json: rc %d, stderr %q", rc, stderr)
	}
}
