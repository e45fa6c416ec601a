package cli

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/internal/testcfssl"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
)

const cfsslKey = testcfssl.AuthKey

// TestCFSSLBackend drives ccpki against a real cfssl API server: issue with
// the auth key from a file, a wrong key refused (exit 4), renew, and an
// unavailable CA (exit 5) leaving the certificate in place.
func TestCFSSLBackend(t *testing.T) {
	srv := testcfssl.Start(t, testcfssl.Options{CA: testpki.NewCA(t, testpki.WithCommonName("cfssl e2e root"))})
	ca := srv.CA
	dir := t.TempDir()
	tlsCA := filepath.Join(dir, "cfssl-tls-ca.pem")
	if err := writeCert(tlsCA, srv.TLSCert); err != nil {
		t.Fatal(err)
	}
	keyFile := secretFile(t, dir, "cfssl.key", cfsslKey+"\n")
	remote := []string{"--cfssl-url", srv.URL, "--cfssl-auth-key-file", keyFile, "--cfssl-tls-ca", tlsCA}
	out := filepath.Join(dir, "srv")

	got := mustCCPKI(t, append([]string{"issue", "--profile", "server", "--dns", "localhost", "--out", out}, remote...)...)
	if !strings.Contains(got, "issued "+out+": CN=localhost") {
		t.Errorf("issue output:\n%s", got)
	}
	if strings.Contains(got, cfsslKey) {
		t.Fatal("ccpki printed the auth key")
	}
	mustCCPKI(t, "verify", "--roots", filepath.Join(out, pki.BundleFile), "--role", "server", "--address", "localhost:7051", out)
	kp, err := pki.ReadCertManager(out, pki.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Roots[0].Equal(ca.Cert) {
		t.Errorf("ca.crt holds %s, want the cfssl root", kp.Roots[0].Subject)
	}

	wrong := secretFile(t, dir, "wrong.key", strings.Repeat("ab", 32))
	out2 := wantExit(t, exitRefused, "auth key", "issue", "--backend", "cfssl", "--cfssl-url", srv.URL,
		"--cfssl-auth-key-file", wrong, "--cfssl-tls-ca", tlsCA, "--profile", "client", "--cn", "peer0", "--out", filepath.Join(dir, "peer"))
	if strings.Contains(out2, strings.Repeat("ab", 32)) {
		t.Fatal("the refusal printed the wrong key")
	}
	if pki.LayoutCertManager.Exists(filepath.Join(dir, "peer")) {
		t.Fatal("a refused issue wrote a certificate")
	}

	mustCCPKI(t, append([]string{"renew", "--dir", out, "--force"}, remote...)...)
	renewed, err := pki.ReadCertManager(out, pki.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Certificate.SerialNumber.Cmp(kp.Certificate.SerialNumber) == 0 {
		t.Fatal("renew kept the serial")
	}

	srv.SetDown(true)
	before := readFile(t, filepath.Join(out, pki.CertFile))
	wantExit(t, exitNoCA, "unreachable", append([]string{"renew", "--dir", out, "--force"}, remote...)...)
	if string(readFile(t, filepath.Join(out, pki.CertFile))) != string(before) {
		t.Fatal("a renewal that could not reach the CA changed tls.crt")
	}
}

func writeCert(path string, c *x509.Certificate) error {
	return writeFileMode(path, pki.EncodeCertificatesPEM(c), 0o644)
}

// TestBackendFlags: the backend follows from the flags, and mixing or
// missing them is a usage error that says what to give.
func TestBackendFlags(t *testing.T) {
	dir := t.TempDir()
	pw := secretFile(t, dir, "pw", "secret")
	loose := filepath.Join(dir, "loose")
	if err := writeFileMode(loose, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no CA", []string{"issue", "--profile", "client", "--cn", "a", "--out", out}, exitUsage, "name the CA: --ca DIR"},
		{"two backends", []string{"issue", "--profile", "client", "--cn", "a", "--out", out, "--ca", dir, "--cfssl-url", "https://x"}, exitUsage, "more than one CA backend"},
		{"flags of another backend", []string{"issue", "--backend", "stepca", "--profile", "client", "--cn", "a", "--out", out, "--cfssl-url", "https://x"}, exitUsage, "--cfssl-url belong to the cfssl backend"},
		{"unknown backend", []string{"issue", "--backend", "vault", "--profile", "client", "--cn", "a", "--out", out}, exitUsage, `--backend "vault"`},
		{"stepca incomplete", []string{"issue", "--ca-url", "https://ca.example:9000", "--profile", "client", "--cn", "a", "--out", out}, exitUsage, "--ca-fingerprint, --provisioner, --provisioner-password-file"},
		{"cfssl without key", []string{"issue", "--cfssl-url", "https://cfssl.example", "--profile", "client", "--cn", "a", "--out", out}, exitUsage, "--cfssl-auth-key-file"},
		{"cfssl plain http", []string{"issue", "--cfssl-url", "http://cfssl.example", "--cfssl-auth-key-file", secretFile(t, dir, "k", cfsslKey), "--profile", "client", "--cn", "a", "--out", out}, exitUsage, "plain http"},
		{"readable password file", []string{"revoke", "--ca-url", "https://ca.example:9000", "--ca-fingerprint", strings.Repeat("ab", 32), "--provisioner", "p",
			"--provisioner-password-file", loose, "--cert", out}, exitFailed, "chmod 600"},
		{"missing password file", []string{"revoke", "--ca-url", "https://ca.example:9000", "--ca-fingerprint", strings.Repeat("ab", 32), "--provisioner", "p",
			"--provisioner-password-file", pw + ".missing", "--cert", out}, exitFailed, "--provisioner-password-file"},
		{"renew stepca without fingerprint", []string{"renew", "--ca-url", "https://ca.example:9000", "--dir", out}, exitUsage, "needs --ca-fingerprint"},
		{"crl is local only", []string{"crl", "--ca-url", "https://ca.example:9000"}, exitUsage, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := wantExit(t, tc.code, tc.want, tc.args...)
			if strings.Contains(got, "secret") {
				t.Errorf("output shows the content of a secret file:\n%s", got)
			}
		})
	}
}

// TestDaemonRetriesWhileCAUnavailable: renew --daemon against a cfssl
// server that answers 503 keeps the current certificate, retries with
// capped backoff, and renews once the CA is back.
func TestDaemonRetriesWhileCAUnavailable(t *testing.T) {
	srv := testcfssl.Start(t, testcfssl.Options{})
	dir := t.TempDir()
	tlsCA := filepath.Join(dir, "tls-ca.pem")
	if err := writeCert(tlsCA, srv.TLSCert); err != nil {
		t.Fatal(err)
	}
	remote := []string{"--cfssl-url", srv.URL, "--cfssl-auth-key-file", secretFile(t, dir, "k", cfsslKey), "--cfssl-tls-ca", tlsCA}
	out := filepath.Join(dir, "peer")
	mustCCPKI(t, append([]string{"issue", "--profile", "client", "--cn", "peer0", "--out", out}, remote...)...)
	before := readFile(t, filepath.Join(out, pki.CertFile))

	srv.SetDown(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"renew", "--dir", out, "--daemon", "--renew-before", "0.999",
			"--min-backoff", "20ms", "--max-backoff", "80ms"}, remote...), &log, &log)
	}()
	waitFor(t, "three failed attempts", func() bool { return strings.Count(log.String(), "unreachable") >= 3 })
	if string(readFile(t, filepath.Join(out, pki.CertFile))) != string(before) {
		t.Fatal("tls.crt changed while the CA was unavailable")
	}
	srv.SetDown(false)
	waitFor(t, "a renewal once the CA is back", func() bool { return strings.Contains(log.String(), "renewed "+out) })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("daemon exited %d:\n%s", code, log.String())
	}
	if string(readFile(t, filepath.Join(out, pki.CertFile))) == string(before) {
		t.Fatal("the daemon reported a renewal but tls.crt is unchanged")
	}
}
