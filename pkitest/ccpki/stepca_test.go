package ccpki_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pkitest/testca"
)

func TestMain(m *testing.M) { testca.Main(m) }

// buildCCPKI builds the ccpki command of the core module (the one this
// module's go.mod replaces it with) into a temporary directory: its
// command line is internal to cmd/ccpki, so it is driven as users drive
// it.
func buildCCPKI(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/ccserver/ccserver").Output()
	if err != nil {
		t.Fatalf("finding the core module: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "ccpki")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ccpki")
	build.Dir = strings.TrimSpace(string(out))
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ccpki: %v\n%s", err, b)
	}
	return bin
}

// run runs ccpki and returns its exit code and its output, stdout and
// stderr together.
func run(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("ccpki %s: %v", strings.Join(args, " "), err)
	return 0, ""
}

// TestStepCAEndToEnd: issue with the provisioner password from a file,
// renew over mTLS with the current certificate (rekey, then same key),
// revoke with a provisioner token, after which step-ca refuses to renew
// it; a wrong password is refused with exit 4 and never printed.
func TestStepCAEndToEnd(t *testing.T) {
	ca := testca.StartStepCA(t)
	url, fp, password := ca.URL, ca.Fingerprint, string(ca.Password)
	bin := buildCCPKI(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "provisioner-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	find := []string{"--backend", "stepca", "--ca-url", url, "--ca-fingerprint", fp}
	withProv := append(append([]string{}, find...), "--provisioner", ca.Provisioner, "--provisioner-password-file", pwFile)
	srv := filepath.Join(dir, "srv")
	step := func(code int, want string, args ...string) string {
		t.Helper()
		got, out := run(t, bin, args...)
		if got != code || !strings.Contains(out, want) {
			t.Fatalf("ccpki %s: exit %d (want %d), output:\n%s(want %q)", strings.Join(args, " "), got, code, out, want)
		}
		if strings.Contains(out, password) {
			t.Fatalf("ccpki %s printed the provisioner password", args[0])
		}
		return out
	}
	serial := func() string {
		kp, err := pki.ReadCertManager(srv, pki.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return kp.Certificate.SerialNumber.String() + "|" + pki.SPKIPin(kp.Certificate)
	}

	step(0, "issued "+srv+": CN=localhost", append([]string{"issue", "--profile", "server", "--dns", "localhost", "--ip", "127.0.0.1",
		"--lifetime", "2h", "--out", srv}, withProv...)...)
	step(0, "OK", "verify", "--roots", filepath.Join(srv, pki.BundleFile), "--role", "server", "--address", "localhost:9999", srv)
	issued := serial()

	// Renew needs only the CA's address and fingerprint: the current
	// certificate authenticates it. A new key by default (rekey)...
	step(0, "renewed "+srv, append([]string{"renew", "--dir", srv, "--force"}, find...)...)
	rekeyed := serial()
	if rekeyed == issued || strings.Split(rekeyed, "|")[1] == strings.Split(issued, "|")[1] {
		t.Fatalf("renew did not rotate serial and key: %s -> %s", issued, rekeyed)
	}
	// ...and the same key with --reuse-key (step-ca's renew).
	step(0, "renewed "+srv, append([]string{"renew", "--dir", srv, "--force", "--reuse-key"}, find...)...)
	renewed := serial()
	if renewed == rekeyed || strings.Split(renewed, "|")[1] != strings.Split(rekeyed, "|")[1] {
		t.Fatalf("renew --reuse-key: %s -> %s, want a new serial for the same key", rekeyed, renewed)
	}
	step(0, "OK", "verify", "--roots", filepath.Join(srv, pki.BundleFile), "--role", "server", "--address", "127.0.0.1:9999", srv)

	wrong := filepath.Join(dir, "wrong-password")
	if err := os.WriteFile(wrong, []byte("not the password"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := step(4, "password", append(append([]string{}, find...), "issue", "--provisioner", ca.Provisioner, "--provisioner-password-file", wrong,
		"--profile", "client", "--cn", "peer0", "--out", filepath.Join(dir, "peer"))...)
	if strings.Contains(out, "not the password") {
		t.Fatal("the refusal printed the wrong password")
	}
	if pki.LayoutCertManager.Exists(filepath.Join(dir, "peer")) {
		t.Fatal("a refused issue wrote files")
	}

	step(0, "revoked serial", append([]string{"revoke", "--cert", srv, "--reason", "key-compromise"}, withProv...)...)
	before := serial()
	step(4, "401", append([]string{"renew", "--dir", srv, "--force"}, find...)...)
	if serial() != before {
		t.Fatal("a refused renewal changed the certificate")
	}
}
